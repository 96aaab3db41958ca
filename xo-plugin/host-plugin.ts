// Calls the host plugin through xapi (`host.call_plugin`) and turns its answers and errors
// into typed values. Result shapes are the host plugin's own (xapi-plugin/*.ts).

import { ErrorCode, PLUGIN_FAILURE, UNKNOWN_FUNCTION } from '../shared/errors.ts'
import type { PluginArgs } from '../shared/plugin-args.ts'
import { PLUGIN_NAME, PLUGIN_VERSION, PROTOCOL_VERSION } from '../shared/version.ts'
import type { XapiConnection } from './xapi-types.ts'
import type { Pause } from '../shared/pause.ts'
import type {
  ApplyManyResult,
  ApplyResult,
  BridgeStatus,
  InstalledParts,
  RefreshIndexResult,
  ReleaseResult,
  StatusResult,
} from '../shared/results.ts'

export const MISSING_PLUGIN = 'XENAPI_MISSING_PLUGIN'

export interface VersionResult {
  name: string
  version: string
  protocol: number
  /** Set while the host is paused (host plugins that predate pause leave it out). */
  paused?: Pause
  /** Which parts are in place (left out by host plugins that predate it). */
  installed?: InstalledParts
}

export type { ApplyResult, BridgeStatus, ReleaseResult }

/** An XAPI error as both `xen-api` and `@xen-orchestra/xapi` throw it. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

export function errorParams(error: unknown): string[] {
  const params = (error as { params?: unknown } | null)?.params
  return Array.isArray(params) ? params.map(String) : []
}

/** One line for logs and reports: the code and the host plugin's message. */
export function describeError(error: unknown): string {
  const code = errorCode(error)
  const params = errorParams(error)
  if (code?.startsWith('VIF_IP_BINDER_') && params[0]) return `${code}: ${params[0]}`
  if (code === PLUGIN_FAILURE && params.length) return `${code}: ${params.slice(0, 4).join(' / ')}`
  if (code && (params.length || code.startsWith('VIF_IP_BINDER_')))
    return params.length ? `${code} ${JSON.stringify(params)}` : code
  return withCode(error instanceof Error ? error.message : String(error), code)
}

/**
 * A message with its code when it does not say it: a transport's code alone (UND_ERR_SOCKET,
 * ECONNREFUSED) tells an admin less than its message ("other side closed").
 */
function withCode(message: string, code: string | undefined): string {
  if (!code || message.includes(code)) return message || code || ''
  return message ? `${message} (${code})` : code
}

// Errors that a later attempt can cure: the host lock was busy, the firewall was still
// booting (its gateway did not answer yet), the bridge was not up yet, the pool master was
// unreachable or its session expired. Invalid arguments and a missing plugin are final.
const TRANSIENT_CODES = new Set<string>([
  ErrorCode.BUSY,
  ErrorCode.GATEWAY_UNREACHABLE,
  ErrorCode.NO_SUCH_DEVICE,
  ErrorCode.COMMAND_FAILED,
  PLUGIN_FAILURE,
  'SESSION_INVALID',
  'HOST_OFFLINE',
  'HOST_NOT_LIVE',
  'TOO_BUSY',
  'VIF_IP_BINDER_XO_TIMEOUT',
])

export function isTransient(error: unknown): boolean {
  const code = errorCode(error)
  if (code === undefined) return true // transport failures (connection refused, reset, …)
  return TRANSIENT_CODES.has(code) || /^E[A-Z]+$/.test(code) // ECONNRESET, ETIMEDOUT, …
}

export function isMissingPlugin(error: unknown): boolean {
  return errorCode(error) === MISSING_PLUGIN
}

export function isUnknownFunction(error: unknown): boolean {
  return errorCode(error) === UNKNOWN_FUNCTION
}

export class HostPluginClient {
  async call<T>(xapi: XapiConnection, hostRef: string, fn: string, args: PluginArgs = {}): Promise<T> {
    const text = await xapi.call('host.call_plugin', hostRef, PLUGIN_NAME, fn, args)
    if (typeof text !== 'string')
      throw new Error(`${PLUGIN_NAME} ${fn}: expected a JSON string from the host, got ${typeof text}`)
    try {
      return JSON.parse(text) as T
    } catch {
      throw new Error(`${PLUGIN_NAME} ${fn}: the host answered something that is not JSON: ${text.slice(0, 200)}`)
    }
  }

  version(xapi: XapiConnection, hostRef: string): Promise<VersionResult> {
    return this.call<VersionResult>(xapi, hostRef, 'version')
  }

  apply(xapi: XapiConnection, hostRef: string, args: PluginArgs): Promise<ApplyResult> {
    return this.call<ApplyResult>(xapi, hostRef, 'apply', args)
  }

  /**
   * Several bridges of one host in one call (host plugins from the same release).
   * `refuseChanges`: a bridge whose binding this would change is left alone (NEEDS_CONFIRMATION).
   */
  applyMany(
    xapi: XapiConnection,
    hostRef: string,
    requests: PluginArgs[],
    refuseChanges = false,
  ): Promise<ApplyManyResult> {
    const args = { requests: JSON.stringify(requests), ...(refuseChanges ? { 'refuse-changes': 'true' } : {}) }
    return this.call<ApplyManyResult>(xapi, hostRef, 'apply-many', args)
  }

  release(xapi: XapiConnection, hostRef: string, bridge: string): Promise<ReleaseResult> {
    return this.call<ReleaseResult>(xapi, hostRef, 'release', { bridge })
  }

  /** The host's vif-hotplug index, read again from the pool document. */
  refreshIndex(xapi: XapiConnection, hostRef: string): Promise<RefreshIndexResult> {
    return this.call<RefreshIndexResult>(xapi, hostRef, 'refresh-index')
  }

  /** Without the firewall VIFs' check, which costs the host many questions to its xapi. */
  status(
    xapi: XapiConnection,
    hostRef: string,
    bridge?: string,
  ): Promise<Pick<StatusResult, 'bridges' | 'confirmation' | 'lastRevert'>> {
    return this.call(xapi, hostRef, 'status', { ...(bridge ? { bridge } : {}), 'firewall-vifs': 'false' })
  }
}

export type HostPluginCheck =
  | { ok: true; version: VersionResult }
  | { ok: false; reason: 'missing' | 'incompatible' | 'unreachable'; message: string; version?: VersionResult }

export const INSTALL_HINT = `on that host, yum install ${PLUGIN_NAME}-${PLUGIN_VERSION}-1.x86_64.rpm (from this release; or copy the ${PLUGIN_NAME} executable to /etc/xapi.d/plugins/ with mode 755)`

/** Is the host plugin there, and does it speak our protocol? Never throws. */
export async function checkHostPlugin(
  client: HostPluginClient,
  xapi: XapiConnection,
  hostRef: string,
): Promise<HostPluginCheck> {
  let version: VersionResult
  try {
    version = await client.version(xapi, hostRef)
  } catch (error) {
    if (isMissingPlugin(error))
      return { ok: false, reason: 'missing', message: `host plugin ${PLUGIN_NAME} is not installed: ${INSTALL_HINT}` }
    return {
      ok: false,
      reason: 'unreachable',
      message: `host plugin ${PLUGIN_NAME} did not answer: ${describeError(error)}`,
    }
  }
  if (version?.protocol !== PROTOCOL_VERSION) {
    return {
      ok: false,
      reason: 'incompatible',
      version,
      message: `host plugin ${PLUGIN_NAME} ${version?.version ?? '?'} speaks protocol ${JSON.stringify(version?.protocol)}, this XO plugin speaks ${PROTOCOL_VERSION}: install the host plugin from the same release as the XO plugin`,
    }
  }
  return { ok: true, version }
}
