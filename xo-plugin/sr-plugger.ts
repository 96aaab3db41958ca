// Re-attaches a binding's network SRs on the host where it was just applied: the host
// plugin's `plug-srs`, started as an xapi task (`Async.host.call_plugin`) and waited for
// outside the per-host call queue, because it waits for the storage server to answer
// through the firewall, possibly for minutes, and applies and releases must not queue
// behind it. Keeps the latest outcome per (host, SR) for the Test report.

import type { SrConfig } from '../shared/binding.ts'
import { DEFAULT_PLUG_TIMEOUT_SECONDS, encodePlugSrsArgs } from '../shared/plugin-args.ts'
import { PLUGIN_NAME } from '../shared/version.ts'
import { QueueClosedError } from './call-queue.ts'
import { describeError } from './host-plugin.ts'
import type { Logger } from './log.ts'
import { taskResult, waitForTask } from './task-wait.ts'
import type { XapiConnection, XapiRecord } from './xapi-types.ts'
import type { PbdOutcome, SrOutcome } from '../shared/results.ts'
import type { HostRef } from './desired.ts'

export type { SrOutcome }

export interface PlugSrsOptions {
  /** Passed to the host plugin: how long it waits for each SR's server. */
  timeoutSeconds: number
  /** How much longer than that we wait for the task (the host's call overhead, xapi's event delay). */
  waitMarginMs: number
}

export const DEFAULT_PLUG_SRS_OPTIONS: PlugSrsOptions = {
  timeoutSeconds: DEFAULT_PLUG_TIMEOUT_SECONDS,
  waitMarginMs: 10_000,
}

export interface PlugTarget extends HostRef {
  srs: SrConfig[]
}

/** How the latest attempt for one SR on one host ended. */
export type SrAttempt =
  | { kind: 'answer'; at: Date; hostName: string; outcome: SrOutcome }
  /** The call or its task failed: no per-SR answer. */
  | { kind: 'error'; at: Date; hostName: string; error: string }

export interface SrState {
  latest?: SrAttempt
  /** Set while a plug-srs for this SR runs on this host. */
  runningSince?: Date
}

export interface SrSummary {
  ok: boolean
  text: string
}

interface SrRecord extends XapiRecord {
  readonly name_label: string
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

function pbdError(pbd: PbdOutcome): string {
  return pbd.error?.length ? pbd.error.filter(Boolean).join(' / ') : 'no error given'
}

/** One SR's answer in words; ok is false when the SR is still not attached. */
export function summarizeOutcome(outcome: SrOutcome): SrSummary {
  const { pbds, probe } = outcome
  const failed = pbds.find(p => p.outcome === 'failed')
  if (failed) return { ok: false, text: `plug failed: ${pbdError(failed)}` }
  if (pbds.some(p => p.outcome === 'unreachable')) {
    const detail = probe
      ? `probe ${probe.target} got no answer in ${probe.attempts} attempts over ${seconds(probe.elapsedMs)}${probe.error ? ` (${probe.error})` : ''}`
      : 'no answer'
    return { ok: false, text: `server unreachable: ${detail}` }
  }
  if (pbds.some(p => p.outcome === 'plugged')) {
    const detail = probe
      ? ` (probe ${probe.target} answered after ${probe.attempts} attempt${probe.attempts === 1 ? '' : 's'})`
      : ''
    return { ok: true, text: `plugged${detail}` }
  }
  if (pbds.length === 0) return { ok: true, text: 'this host has no PBD for it' }
  return { ok: true, text: 'already attached' }
}

export function summarizeAttempt(attempt: SrAttempt): SrSummary {
  if (attempt.kind === 'error') return { ok: false, text: `plug-srs failed: ${attempt.error}` }
  return summarizeOutcome(attempt.outcome)
}

function runKey(hostUuid: string, srs: SrConfig[]): string {
  return `${hostUuid}/${srs
    .map(s => s.sr)
    .sort()
    .join(',')}`
}

export class SrPlugger {
  private readonly states = new Map<string, SrState>()
  private readonly running = new Map<string, Promise<void>>()
  private abort = new AbortController()

  constructor(
    private readonly getXapi: (poolId: string) => XapiConnection | undefined,
    private readonly log: Logger,
    private readonly options: PlugSrsOptions = DEFAULT_PLUG_SRS_OPTIONS,
  ) {}

  /** Starts plug-srs for the target's SRs on its host unless one already runs for them; returns at once. */
  start(target: PlugTarget): void {
    if (target.srs.length === 0) return
    const key = runKey(target.hostUuid, target.srs)
    if (this.running.has(key)) {
      this.log.debug(
        `plug-srs already running on host ${JSON.stringify(target.hostName)} for these SRs: not started again`,
        { host: target.hostUuid },
      )
      return
    }
    const run = this.run(target).finally(() => this.running.delete(key))
    this.running.set(key, run)
  }

  /** The latest outcome and whether a run is in progress, for one SR on one host. */
  state(hostUuid: string, srUuid: string): SrState | undefined {
    return this.states.get(`${hostUuid}/${srUuid}`)
  }

  /** Hosts that have tried this SR, with their state. */
  statesOf(srUuid: string): [string, SrState][] {
    return [...this.states]
      .filter(([key]) => key.endsWith(`/${srUuid}`))
      .map(([key, state]) => [key.slice(0, key.indexOf('/')), state])
  }

  /** Resolves when no plug-srs runs (tests, the demo). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running.values())
  }

  get busy(): boolean {
    return this.running.size > 0
  }

  /**
   * Stops waiting (the tasks themselves finish on their hosts); the outcomes are kept, for
   * a later load. A run that was stopped records nothing.
   */
  close(): void {
    this.abort.abort()
    this.abort = new AbortController()
  }

  private stateOf(hostUuid: string, srUuid: string): SrState {
    const key = `${hostUuid}/${srUuid}`
    let state = this.states.get(key)
    if (!state) this.states.set(key, (state = {}))
    return state
  }

  private async run(target: PlugTarget): Promise<void> {
    const since = new Date()
    for (const { sr } of target.srs) this.stateOf(target.hostUuid, sr).runningSince = since
    const names = this.srNames(target)
    const described = `host ${JSON.stringify(target.hostName)} for SR ${target.srs.map(s => JSON.stringify(names.get(s.sr) ?? s.sr)).join(', ')}`
    try {
      const xapi = this.getXapi(target.poolId)
      if (!xapi) throw new Error(`the pool of host ${JSON.stringify(target.hostName)} is not connected`)
      const args = encodePlugSrsArgs(target.srs, this.options.timeoutSeconds)
      this.log.info(`plug-srs on ${described}`, { host: target.hostUuid, args })
      const taskRef = await xapi.call('Async.host.call_plugin', target.hostRef, PLUGIN_NAME, 'plug-srs', args)
      if (typeof taskRef !== 'string')
        throw new Error(`Async.host.call_plugin answered ${typeof taskRef}, not a task reference`)
      const task = await waitForTask(
        xapi,
        taskRef,
        this.options.timeoutSeconds * 1000 + this.options.waitMarginMs,
        this.abort.signal,
      )
      // Finished tasks stay in xapi until destroyed; nobody else will (as xen-api's callAsync does).
      void xapi.call('task.destroy', taskRef).catch(() => undefined)
      const answer = parseAnswer(taskResult(task))
      this.record(target, answer.srs)
    } catch (error) {
      if (error instanceof QueueClosedError) return
      const reason = describeError(error)
      const at = new Date()
      for (const { sr } of target.srs)
        this.stateOf(target.hostUuid, sr).latest = { kind: 'error', at, hostName: target.hostName, error: reason }
      this.log.warn(`plug-srs on ${described} failed: ${reason}`, { error, host: target.hostUuid })
    } finally {
      for (const { sr } of target.srs) {
        const state = this.stateOf(target.hostUuid, sr)
        if (state.runningSince === since) state.runningSince = undefined
      }
    }
  }

  private record(target: PlugTarget, outcomes: SrOutcome[]): void {
    const at = new Date()
    for (const outcome of outcomes) {
      this.stateOf(target.hostUuid, outcome.sr).latest = { kind: 'answer', at, hostName: target.hostName, outcome }
      const summary = summarizeOutcome(outcome)
      const message = `SR ${JSON.stringify(outcome.name)} on host ${JSON.stringify(target.hostName)}: ${summary.text}`
      const data = { host: target.hostUuid, sr: outcome.sr, probe: outcome.probe, pbds: outcome.pbds }
      if (summary.ok) this.log.info(message, data)
      else this.log.warn(message, data)
    }
    // An SR the host did not answer for (it should not happen) is a failure, not "running".
    for (const { sr } of target.srs) {
      if (!outcomes.some(o => o.sr === sr))
        this.stateOf(target.hostUuid, sr).latest = {
          kind: 'error',
          at,
          hostName: target.hostName,
          error: 'the host plugin did not report this SR',
        }
    }
  }

  private srNames(target: PlugTarget): Map<string, string> {
    const names = new Map<string, string>()
    const xapi = this.getXapi(target.poolId)
    if (!xapi) return names
    for (const { sr } of target.srs) {
      const record = xapi.objects.all[sr]
      if (record?.$type === 'SR') names.set(sr, (record as SrRecord).name_label)
    }
    return names
  }
}

function parseAnswer(value: unknown): { host: string; srs: SrOutcome[] } {
  if (typeof value !== 'string')
    throw new Error(`${PLUGIN_NAME} plug-srs: expected a JSON string from the host, got ${typeof value}`)
  let answer: { host?: unknown; srs?: unknown }
  try {
    answer = JSON.parse(value)
  } catch {
    throw new Error(`${PLUGIN_NAME} plug-srs: the host answered something that is not JSON: ${value.slice(0, 200)}`)
  }
  if (!Array.isArray(answer?.srs))
    throw new Error(`${PLUGIN_NAME} plug-srs: the answer has no srs list: ${value.slice(0, 200)}`)
  return answer as { host: string; srs: SrOutcome[] }
}
