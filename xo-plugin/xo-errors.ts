// Errors as xo-server hands them to xo-web. xo-server passes an error that has
// `toJsonRpcError()` to the client as that payload; any other error reaches an admin as
// every property plus its stack (xo-server's `src/xo-mixins/api.mjs`). xo-web shows the
// message in a toast or modal, and also prints `JSON.stringify(error.data)`: after a refused
// configuration as a second "Plugin error" toast, after a failed Test as a block under the
// message. So a configuration error carries its message as `data` (a short text, not
// an object), and a Test failure its problems, per binding, as `data`.

import { BinderError } from '../shared/errors.ts'

// Numbers of Xen Orchestra's own API errors (xo-common's api-errors.js): a JSON-RPC error
// code must be an integer, and xo-web prints it as "Code".
export const INVALID_PARAMETERS = 10
export const OPERATION_FAILED = 21

export class PluginApiError extends Error {
  override name = 'PluginApiError'
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
    /** The stable code of the refusal (VIF_IP_BINDER_…), for logs and scripts. */
    readonly reason?: string,
  ) {
    super(message)
  }

  toJsonRpcError(): { code: number; message: string; data?: unknown } {
    return { code: this.code, message: this.message, data: this.data }
  }
}

/**
 * Names in messages are JSON-quoted (`VM "fw"`); in the JSON text xo-web prints of `data`
 * they would show as `\"fw\"`, so `data` gets typographic quotes.
 */
export function forDisplay(message: string): string {
  return message.replace(/"((?:[^"\\\n]|\\.)*)"/g, (_, inner: string) => `“${inner.replace(/\\(.)/g, '$1')}”`)
}

/** A refused configuration: xo-server does not save it, xo-web shows why. */
export function configurationRefused(error: unknown, rename: (text: string) => string = text => text): Error {
  if (!(error instanceof BinderError)) return error instanceof Error ? error : new Error(String(error))
  const message = rename(error.message)
  return new PluginApiError(INVALID_PARAMETERS, message, forDisplay(message), error.code)
}

/** Width of a line of `data` in xo-web's modal, whose `<pre>` does not wrap. */
export const DATA_LINE_WIDTH = 56

/**
 * A long line cut after spaces and commas into pieces that fit the modal; each piece keeps
 * its trailing space or comma and each one after the first starts with two spaces, so
 * removing every "newline + two spaces" of the joined pieces gives the line back.
 */
export function wrapForModal(line: string, width = DATA_LINE_WIDTH): string[] {
  const pieces: string[] = []
  let current = ''
  for (const word of line.match(/[^ ,]*(?:[ ,]+|$)/g)!.filter(Boolean)) {
    if (current.trim() && (current + word).trimEnd().length > width) {
      pieces.push(current)
      current = '  '
    }
    current += word
  }
  pieces.push(current)
  return pieces
}

/** A failed Test: the modal shows the code, the message, then the problems of each binding (`data`). */
export function testFailed(message: string, problems?: Record<string, string[]>): PluginApiError {
  const data =
    problems &&
    Object.fromEntries(
      Object.entries(problems).map(([label, lines]) => [
        forDisplay(label),
        lines.flatMap(line => wrapForModal(forDisplay(line))),
      ]),
    )
  return new PluginApiError(OPERATION_FAILED, message, data)
}

/** A Test request xo-server let through without checking (the plugin has no testSchema). */
export function invalidTestData(message: string): PluginApiError {
  return new PluginApiError(INVALID_PARAMETERS, message, forDisplay(message))
}
