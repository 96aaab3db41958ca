// Faults on demand. Connection faults match calls by method, user or session and either
// drop the connection without an answer, delay it, or hold it until the test releases it
// (to stop a client between two of its calls, with no timing); plugin faults make call_plugin hang
// (until released or the simulator stops) or fail with a chosen ErrorDescription.

import { XapiFailure } from './errors.ts'
import type { Timeline } from './timeline.ts'

export interface CallMatch {
  /** Exact method name or a pattern (`/^event\./`). */
  method?: string | RegExp
  user?: string
  session?: string
  via?: 'tcp' | 'unix'
}

export interface ConnectionFault {
  match?: CallMatch
  action: 'drop' | 'delay' | 'hold'
  delayMs?: number
  /** How many calls it applies to; unlimited when absent. */
  times?: number
}

export interface PluginFault {
  host?: string // host uuid or scenario name
  plugin?: string
  fn?: string
  action: 'hang' | 'fail'
  /** ErrorDescription for 'fail'; defaults to a non-zero exit. */
  error?: string[]
  times?: number
}

export interface CallInfo {
  method: string
  user?: string
  session?: string
  via: 'tcp' | 'unix'
}

interface Armed<T> {
  id: number
  fault: T
  left: number
}

export function callMatches(match: CallMatch | undefined, call: CallInfo): boolean {
  if (match === undefined) return true
  if (match.method !== undefined) {
    if (typeof match.method === 'string' ? match.method !== call.method : !match.method.test(call.method)) return false
  }
  if (match.user !== undefined && match.user !== call.user) return false
  if (match.session !== undefined && match.session !== call.session) return false
  if (match.via !== undefined && match.via !== call.via) return false
  return true
}

export class FaultController {
  private nextId = 1
  private connection: Armed<ConnectionFault>[] = []
  private plugin: Armed<PluginFault>[] = []
  private hung = new Set<() => void>()
  private held = new Set<() => void>()

  /** Each connection fault that fires is on the timeline, so tests count them, not time them. */
  constructor(private timeline?: Timeline) {}

  addConnectionFault(fault: ConnectionFault): number {
    const id = this.nextId++
    this.connection.push({ id, fault, left: fault.times ?? Infinity })
    return id
  }

  addPluginFault(fault: PluginFault): number {
    const id = this.nextId++
    this.plugin.push({ id, fault, left: fault.times ?? Infinity })
    return id
  }

  remove(id: number): void {
    this.connection = this.connection.filter(f => f.id !== id)
    this.plugin = this.plugin.filter(f => f.id !== id)
  }

  clear(): void {
    this.connection = []
    this.plugin = []
    this.releaseHungPlugins()
    this.releaseHeldCalls()
  }

  /** The connection fault for this call, consuming one use. */
  takeConnectionFault(call: CallInfo): ConnectionFault | undefined {
    const armed = this.connection.find(f => f.left > 0 && callMatches(f.fault.match, call))
    if (armed === undefined) return undefined
    if (--armed.left <= 0) this.remove(armed.id)
    this.timeline?.record('fault.applied', {
      detail: { id: armed.id, action: armed.fault.action, method: call.method },
    })
    return armed.fault
  }

  /** Applies a plugin fault if one matches: waits (hang), throws (fail) or does nothing. */
  async applyPluginFault(
    call: { hostUuid: string; hostName: string; plugin: string; fn: string },
    signal: AbortSignal,
  ): Promise<void> {
    const armed = this.plugin.find(
      f =>
        f.left > 0 &&
        (f.fault.host === undefined || f.fault.host === call.hostUuid || f.fault.host === call.hostName) &&
        (f.fault.plugin === undefined || f.fault.plugin === call.plugin) &&
        (f.fault.fn === undefined || f.fault.fn === call.fn),
    )
    if (armed === undefined) return
    if (--armed.left <= 0) this.remove(armed.id)
    if (armed.fault.action === 'fail') {
      const [code = 'XENAPI_PLUGIN_FAILURE', ...params] = armed.fault.error ?? [
        'XENAPI_PLUGIN_FAILURE',
        'non-zero exit',
        '',
        'injected fault',
      ]
      throw new XapiFailure(code, params)
    }
    // A hung plugin hangs the API call: xapi has no timeout. Released by releaseHungPlugins().
    await park(this.hung, signal)
    if (signal.aborted) throw new XapiFailure('TASK_CANCELLED', [])
  }

  /** Waits until releaseHeldCalls() (or the call's end): a 'hold' connection fault. */
  hold(signal: AbortSignal): Promise<void> {
    return park(this.held, signal)
  }

  get heldCalls(): number {
    return this.held.size
  }

  releaseHeldCalls(): void {
    for (const release of [...this.held]) release()
  }

  get hungPlugins(): number {
    return this.hung.size
  }

  /** Lets every hanging call_plugin go on (they then run the plugin normally). */
  releaseHungPlugins(): void {
    for (const release of [...this.hung]) release()
  }
}

/** Resolves once released through `parked` or once `signal` aborts. */
function park(parked: Set<() => void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>(resolve => {
    const release = () => {
      parked.delete(release)
      signal.removeEventListener('abort', release)
      resolve()
    }
    parked.add(release)
    signal.addEventListener('abort', release)
  })
}
