// xapi's plugin protocol, as XenAPIPlugin.py speaks it: the call arrives as an XML-RPC
// <methodCall> in argv[1] (params: session ref, struct of string args) and the answer is
// one <methodResponse> on stdout carrying {Status, Value} or {Status, ErrorDescription}.

import { BinderError, PLUGIN_FAILURE, UNKNOWN_FUNCTION, invalidArgument } from '../../shared/errors.ts'
import type { PluginArgs } from '../../shared/plugin-args.ts'
import { type XmlRpcValue, XmlRpcSyntaxError, decodeMethodCall, encodeMethodResponse } from '../../shared/xmlrpc.ts'

export interface PluginCall {
  fn: string
  session?: string
  args: PluginArgs
}

export function parsePluginCall(xml: string): PluginCall {
  let call
  try {
    call = decodeMethodCall(xml)
  } catch (error) {
    if (error instanceof XmlRpcSyntaxError)
      throw invalidArgument(`the call is not an XML-RPC methodCall: ${error.message}`)
    throw error
  }
  const [session, struct] = call.params
  const args: PluginArgs = {}
  if (struct !== undefined && struct !== '') {
    if (typeof struct !== 'object' || struct === null || Array.isArray(struct) || struct instanceof Date) {
      throw invalidArgument('the arguments (params[1]) must be a struct of strings')
    }
    for (const [key, value] of Object.entries(struct)) {
      if (typeof value !== 'string') throw invalidArgument(`argument ${JSON.stringify(key)} must be a string`, key)
      args[key] = value
    }
  }
  return { fn: call.methodName, session: typeof session === 'string' && session ? session : undefined, args }
}

export type Outcome = { ok: true; value: unknown } | { ok: false; errorDescription: string[] }

/** Any thrown value → the ErrorDescription xapi passes to the caller verbatim. */
export function errorDescriptionOf(fn: string, error: unknown): string[] {
  if (error instanceof BinderError) return error.errorDescription
  const e = error instanceof Error ? error : new Error(String(error))
  return [PLUGIN_FAILURE, fn, e.name, e.message]
}

export function unknownFunction(fn: string): string[] {
  return [UNKNOWN_FUNCTION, fn]
}

export function encodeOutcome(outcome: Outcome): string {
  const struct: Record<string, XmlRpcValue> = outcome.ok
    ? { Status: 'Success', Value: JSON.stringify(outcome.value ?? null) }
    : { Status: 'Failure', ErrorDescription: outcome.errorDescription }
  return encodeMethodResponse(struct) + '\n'
}
