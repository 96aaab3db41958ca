// Runs the compiled host plugin exactly as xapi does: argv[1] is the <methodCall> in
// xapi's encoding, the environment is PATH alone (plus the simulated root, which
// production lacks), stdin is /dev/null. Every answer is parsed by Python's xmlrpc.client,
// an implementation independent of ours.

import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { encodeMethodCall } from '../../shared/xmlrpc.ts'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..')
export const HOST_PLUGIN = join(REPO, 'dist/xapi-plugin/vif-ip-binder')
export const XAPI_PATH = '/sbin:/usr/sbin:/bin:/usr/bin'
export const SESSION = 'OpaqueRef:11111111-2222-3333-4444-555555555555'

export type PluginReply =
  | { status: 'Success'; value: unknown; raw: string }
  | { status: 'Failure'; errorDescription: string[]; raw: string }

export interface PluginRun {
  exitCode: number | undefined
  signal: string | undefined
  stdout: string
  stderr: string
}

const PYTHON_PARSE = `
import json, sys, xmlrpc.client
params, method = xmlrpc.client.loads(sys.stdin.read())
assert method is None and len(params) == 1, "not one methodResponse param"
print(json.dumps(params[0]))
`

const PYTHON_ENCODE = `
import json, sys, xmlrpc.client
call = json.loads(sys.argv[1])
print(xmlrpc.client.dumps(tuple(call["params"]), methodname=call["fn"]))
`

/** Encodes a call the way Python's XenAPI does (`<string>` wrappers, an XML prolog). */
export async function pythonEncodedCall(fn: string, args: Record<string, string>): Promise<string> {
  const result = await execa('python3', ['-c', PYTHON_ENCODE, JSON.stringify({ fn, params: [SESSION, args] })])
  return result.stdout
}

export function xapiEncodedCall(fn: string, args: Record<string, string>): string {
  return encodeMethodCall(fn, [SESSION, args])
}

export interface RunOptions {
  root: string
  extraEnv?: Record<string, string>
  /** Send this signal after this many milliseconds. */
  killAfterMs?: number
}

/** Runs the executable inside a namespace with argv[1] = xml, as xapi's forkexecd would. */
export async function runPluginXml(ns: string, xml: string, options: RunOptions): Promise<PluginRun> {
  const env = [
    `PATH=${XAPI_PATH}`,
    `VIF_IP_BINDER_ROOT=${options.root}`,
    ...Object.entries(options.extraEnv ?? {}).map(([k, v]) => `${k}=${v}`),
  ]
  const child = execa('ip', ['netns', 'exec', ns, 'env', '-i', ...env, HOST_PLUGIN, xml], {
    reject: false,
    stdin: 'ignore',
    env: { PATH: process.env.PATH },
    extendEnv: false,
  })
  if (options.killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), options.killAfterMs)
  const result = await child
  return { exitCode: result.exitCode, signal: result.signal, stdout: result.stdout, stderr: result.stderr }
}

export async function parseReply(stdout: string): Promise<PluginReply> {
  const parsed = await execa('python3', ['-c', PYTHON_PARSE], { input: stdout, reject: false })
  if (parsed.exitCode !== 0) throw new Error(`Python's xmlrpc.client rejected the answer: ${parsed.stderr}\n${stdout}`)
  const struct = JSON.parse(parsed.stdout) as { Status: string; Value?: unknown; ErrorDescription?: string[] }
  if (struct.Status === 'Success') {
    if (typeof struct.Value !== 'string') throw new Error(`Value is not a string: ${parsed.stdout}`)
    return { status: 'Success', value: JSON.parse(struct.Value), raw: stdout }
  }
  if (struct.Status === 'Failure' && Array.isArray(struct.ErrorDescription)) {
    return { status: 'Failure', errorDescription: struct.ErrorDescription, raw: stdout }
  }
  throw new Error(`unexpected answer ${parsed.stdout}`)
}

/** One call as xapi makes it; the exit status must be 0 and stdout one methodResponse. */
export async function callPlugin(
  ns: string,
  root: string,
  fn: string,
  args: Record<string, string> = {},
): Promise<PluginReply> {
  const run = await runPluginXml(ns, xapiEncodedCall(fn, args), { root })
  if (run.exitCode !== 0) throw new Error(`plugin exited ${run.exitCode}: ${run.stderr}`)
  return parseReply(run.stdout)
}

/** The Value of a successful call, or a thrown error quoting the failure. */
export async function callOk<T = Record<string, unknown>>(
  ns: string,
  root: string,
  fn: string,
  args: Record<string, string> = {},
): Promise<T> {
  const reply = await callPlugin(ns, root, fn, args)
  if (reply.status !== 'Success') throw new Error(`${fn} failed: ${JSON.stringify(reply.errorDescription)}`)
  return reply.value as T
}

/** Runs the executable by hand (`vif-ip-binder fn key=value`), as an admin would. */
export async function runByHand(ns: string, root: string, words: string[], extraEnv: Record<string, string> = {}) {
  const env = [
    `PATH=${XAPI_PATH}`,
    `VIF_IP_BINDER_ROOT=${root}`,
    ...Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`),
  ]
  return execa('ip', ['netns', 'exec', ns, 'env', '-i', ...env, HOST_PLUGIN, ...words], {
    reject: false,
    stdin: 'ignore',
  })
}
