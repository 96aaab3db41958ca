// host.call_plugin as xapi does it: the file <root>/etc/xapi.d/plugins/<name> (exact
// directory entry), executed inside the host's namespace with argv[1] the <methodCall>
// in xapi's encoding, PATH only (plus VIF_IP_BINDER_ROOT naming the simulated root),
// stdin /dev/null; exit status and stdout mapped to the caller's result or error exactly
// as xapi maps them.

import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeMethodResponse, encodeMethodCall, type XmlRpcValue } from '../../shared/xmlrpc.ts'
import { XapiFailure } from './errors.ts'
import { forkExec } from './fork-client.ts'
import { ipBinary } from './netns-tools.ts'

export const PLUGIN_PATH_ENV = '/sbin:/usr/sbin:/bin:/usr/bin'

export interface PluginTarget {
  netns: string
  root: string
}

export function pluginEnvironment(root: string): Record<string, string> {
  return { PATH: PLUGIN_PATH_ENV, VIF_IP_BINDER_ROOT: root }
}

export interface PluginRun {
  result: string
  exitCode?: number
  stdout: string
  stderr: string
}

export async function runPlugin(
  target: PluginTarget,
  plugin: string,
  fn: string,
  args: Record<string, string>,
  sessionRef: string,
  signal?: AbortSignal,
): Promise<string> {
  const dir = join(target.root, 'etc/xapi.d/plugins')
  const entries = await readdir(dir).catch(() => [] as string[])
  if (!entries.includes(plugin)) throw new XapiFailure('XENAPI_MISSING_PLUGIN', [plugin])

  const xml = encodeMethodCall(fn, [sessionRef, args as Record<string, XmlRpcValue>])
  // `ip netns exec` execs the plugin in place, so its exit status and signal are the plugin's.
  // Started by forkexecd, as xapi starts it: see forkexecd.ts.
  const argv = ['netns', 'exec', target.netns, join(dir, plugin), xml]
  const r = await forkExec(ipBinary(), argv, pluginEnvironment(target.root), signal)
  return mapPluginOutcome({
    signal: r.canceled ? 'SIGTERM' : r.signal,
    exitCode: r.exitCode,
    stdout: r.stdout,
    stderr: r.stderr || (r.error ?? ''),
  })
}

/** xapi's mapping of a finished plugin process to a result or an API error. */
export function mapPluginOutcome(p: { signal?: string; exitCode?: number; stdout: string; stderr: string }): string {
  if (p.signal) throw new XapiFailure('XENAPI_PLUGIN_FAILURE', [`signal: ${p.signal}`, p.stdout, p.stderr])
  if (p.exitCode !== 0) throw new XapiFailure('XENAPI_PLUGIN_FAILURE', ['non-zero exit', p.stdout, p.stderr])
  let response
  try {
    response = decodeMethodResponse(p.stdout)
  } catch (error) {
    throw new XapiFailure('XENAPI_PLUGIN_FAILURE', [
      'failed to parse plugin output',
      p.stdout,
      (error as Error).message,
    ])
  }
  if (response.kind === 'fault') {
    throw new XapiFailure('XENAPI_PLUGIN_FAILURE', ['fault', String(response.faultCode), response.faultString])
  }
  const value = response.value
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
    throw new XapiFailure('XENAPI_PLUGIN_FAILURE', [
      'failed to parse plugin output',
      p.stdout,
      'the response is not a struct',
    ])
  }
  if (value.Status === 'Success') {
    if (typeof value.Value !== 'string')
      throw new XapiFailure('INTERNAL_ERROR', ['plugin returned a Value that is not a string'])
    return value.Value
  }
  if (value.Status === 'Failure' && Array.isArray(value.ErrorDescription) && value.ErrorDescription.length > 0) {
    const [code, ...params] = value.ErrorDescription.map(String)
    throw new XapiFailure(code!, params)
  }
  throw new XapiFailure('XENAPI_PLUGIN_FAILURE', [
    'failed to parse plugin output',
    p.stdout,
    'no Status in the response',
  ])
}
