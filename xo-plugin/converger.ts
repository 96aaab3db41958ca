// Drives every (host, bridge) towards its target: the desired binding, or nothing. A key
// has at most one job queued; the job reads the target when it runs, so a burst of events
// (plug, unplug, plug) costs at most the calls the final state needs.

import { DEFAULT_GATEWAY_CHECK_SECONDS } from '../shared/plugin-args.ts'
import { type ApplyManyResult, type ApplyResult, type ConfirmResult, MAX_APPLY_MANY } from '../shared/results.ts'
import { PLUGIN_NAME } from '../shared/version.ts'
import { QueueClosedError, type CallQueue } from './call-queue.ts'
import { type DesiredBinding, type HostRef } from './desired.ts'
import { canonicalArgs } from '../shared/plugin-args.ts'
import { hostIndependentText, readPoolHolds } from '../shared/pool-holds.ts'
import { ErrorCode } from '../shared/errors.ts'
import {
  type HostPluginCheck,
  type HostPluginClient,
  INSTALL_HINT,
  checkHostPlugin,
  describeError,
  isMissingPlugin,
  isTransient,
  isUnknownFunction,
} from './host-plugin.ts'
import { type Logger, OnceLogger } from './log.ts'
import type { XapiConnection } from './xapi-types.ts'

interface Entry extends HostRef {
  key: string
  bridge: string
  target: DesiredBinding | null
  /** JSON of the arguments the host holds for this bridge as far as we know; null: nothing. */
  settled: string | null
  /** A target whose call failed for good: not retried until it changes or the pool reconnects. */
  failedFor?: string | null
  /** A target from a new configuration: applied with a confirmation window, then confirmed. */
  confirmFor?: string
  /** A target whose confirmation failed (the host reverted it): not applied again until it changes. */
  revertedFor?: string
  /**
   * The host still reports a revert of this bridge that no confirmation ended (xo-server
   * restarted since): the next apply there gets a window even if the host holds the target
   * already, so its confirmation ends the revert (its record and alert).
   */
  endRevert?: boolean
  /**
   * `settled` is what we last knew, from before a reconnection: the next apply of a target
   * goes to the host even if it looks settled, with refuse-changes (the host knows better).
   */
  doubted?: boolean
  /** A target the host refused to apply without a window (it holds other arguments, or reverted it). */
  refusedFor?: string
  scheduled: boolean
}

/** What a confirmation answered that matters here (the host's ConfirmResult). */
export type ConfirmAnswer = Pick<ConfirmResult, 'deadline' | 'othersUnconfirmed'>

/** Why a host reverted a change Xen Orchestra made: it could not confirm it. */
export interface RevertNote {
  hostUuid: string
  hostName: string
  bridge: string
  deadline: string
  reason: string
  at: string
}

// Spawning the plugin, reading the kernel, writing the state file, and the xapi round trip.
const CALL_OVERHEAD_SECONDS = 30
// The host's revert process runs at the deadline: a look this much later finds it done.
const REVERT_GRACE_MS = 3000

export class PoolNotConnectedError extends Error {
  override name = 'PoolNotConnectedError'
}

function targetText(target: DesiredBinding | null): string | null {
  return target ? canonicalArgs(target.args) : null
}

const poolBridge = (at: { poolId: string; bridge: string }) => `${at.poolId}/${at.bridge}`
/** A target's arguments as every host of its pool gets them (no management bridge). */
const samePoolWide = (target: DesiredBinding) => hostIndependentText(target.args)

export class Converger {
  private readonly entries = new Map<string, Entry>()
  private readonly hostChecks = new Map<string, Promise<HostPluginCheck>>()
  /** Checks that found a host plugin of our protocol: kept across reconnections. */
  private readonly compatible = new Set<string>()
  /** Hosts whose plugin predates apply-many. */
  private readonly singleApplyHosts = new Set<string>()
  private readonly once: OnceLogger
  private readonly laterTimers = new Set<NodeJS.Timeout>()
  /** Told after each successful apply. It runs inside the host's queue slot, so it must return at once. */
  onApplied: (target: DesiredBinding) => void = () => undefined
  /** A host paused by its admin: its keys wait (a host event brings them back on resume). */
  isPaused: (poolId: string, hostRef: string) => boolean = () => false
  /** The confirmation window for changes from a new configuration (0: none). */
  confirmSeconds: () => number = () => 0
  /** Is this bridge named by a binding of this pool's configuration (so ours to release)? */
  ownsBridge: (poolId: string, bridge: string) => boolean = () => false
  /** Confirms an applied change through a new connection to its host; throws if it cannot. */
  confirmChange: (target: DesiredBinding, token: string, deadline: string) => Promise<ConfirmAnswer | void> =
    async () => undefined
  /** Reverts by key (host/bridge), for the Test report. */
  readonly reverts = new Map<string, RevertNote>()
  /**
   * Per pool and bridge, a target a host reverted (its arguments as every host gets them):
   * the firewall VM may start next on another host, which must not get it without a window.
   */
  private readonly poolReverts = new Map<string, string>()

  constructor(
    private readonly queue: CallQueue,
    private readonly client: HostPluginClient,
    private readonly getXapi: (poolId: string) => XapiConnection | undefined,
    private readonly log: Logger,
    /** After the queue's retries are spent on a transient error, try again this much later. */
    private readonly retryLaterMs = 60_000,
    /** The queue's own per-attempt timeout; an apply gets at least this. */
    private readonly minimumTimeoutMs = 0,
  ) {
    this.once = new OnceLogger(log)
  }

  /** Cancels the delayed retries (the queue is closed by its owner). */
  close(): void {
    for (const timer of this.laterTimers) clearTimeout(timer)
    this.laterTimers.clear()
  }

  /**
   * The whole desired state of one pool: keys of that pool not in it go back to nothing.
   * `fromConfiguration`: a saved configuration, whose changes are applied with a window.
   */
  setTargets(poolId: string, desired: Map<string, DesiredBinding>, fromConfiguration = false): void {
    for (const target of desired.values()) {
      const entry = this.entries.get(target.key) ?? this.createEntry(target.key, target, target.bridge)
      const before = entry.target
      const want = targetText(target)!
      if (fromConfiguration && want !== targetText(entry.target) && want !== entry.settled) entry.confirmFor = want
      if (entry.revertedFor !== undefined && entry.revertedFor !== want) entry.revertedFor = undefined
      if (this.poolReverts.get(poolBridge(target)) !== samePoolWide(target)) this.poolReverts.delete(poolBridge(target))
      entry.target = target
      // SRs added to a binding its host already holds: no apply comes to start their plug-srs.
      const added = before && target.srs.some(({ sr }) => !before.srs.some(b => b.sr === sr))
      if (added && entry.settled === targetText(target)) this.onApplied(target)
    }
    for (const entry of this.entries.values()) {
      if (entry.poolId === poolId && !desired.has(entry.key)) entry.target = null
    }
    for (const entry of this.entries.values()) if (entry.poolId === poolId) this.kick(entry)
  }

  /** What a host says it holds for a bridge (from its `status`), replacing our memory. */
  learn(host: HostRef, bridge: string, recordedArgs: Record<string, string> | null, reverted = false): void {
    const key = `${host.hostUuid}/${bridge}`
    const entry = this.entries.get(key) ?? this.createEntry(key, host, bridge)
    entry.settled = recordedArgs ? canonicalArgs(recordedArgs) : null
    entry.endRevert = reverted && recordedArgs !== null ? true : undefined
    entry.doubted = undefined
  }

  /**
   * After a reconnection: what we believe each host holds may have changed meanwhile. Every
   * target is sent again (one apply-many per host, with refuse-changes), and its answer says
   * what the host holds; nothing is asked first.
   */
  doubt(poolId: string): void {
    for (const entry of this.entries.values()) {
      if (entry.poolId !== poolId) continue
      entry.doubted = true
      this.kick(entry)
    }
  }

  /** Does the host have a target here, whose apply-many answer will tell what else it holds? */
  hasTargets(hostUuid: string): boolean {
    return [...this.entries.values()].some(e => e.hostUuid === hostUuid && e.target !== null)
  }

  /** Keys we believe bound on a host (to reconcile with what the host reports). */
  boundBridges(hostUuid: string): string[] {
    return [...this.entries.values()].filter(e => e.hostUuid === hostUuid && e.settled !== null).map(e => e.bridge)
  }

  /**
   * After a (re)connection: give failed targets and failed host plugin checks another
   * chance. A host plugin found compatible stays so (a reconnection is no news about the
   * hosts' plugins, and asking again would cost every host one more call before its work).
   */
  forgetFailures(poolId: string): void {
    for (const entry of this.entries.values()) {
      if (entry.poolId !== poolId) continue
      entry.failedFor = undefined
      this.singleApplyHosts.delete(entry.hostUuid) // the host plugin may have been upgraded
    }
    for (const key of [...this.hostChecks.keys()])
      if (key.startsWith(`${poolId}/`) && !this.compatible.has(key)) this.hostChecks.delete(key)
  }

  /** Keys whose host state differs from the target, for reports and tests. */
  pending(): string[] {
    return [...this.entries.values()].filter(e => targetText(e.target) !== e.settled).map(e => e.key)
  }

  hostCheck(xapi: XapiConnection, host: HostRef): Promise<HostPluginCheck> {
    const cacheKey = `${host.poolId}/${host.hostUuid}`
    let check = this.hostChecks.get(cacheKey)
    if (!check) {
      check = checkHostPlugin(this.client, xapi, host.hostRef)
      this.hostChecks.set(cacheKey, check)
      // An unreachable host is asked again next time; missing or incompatible stays known
      // until the pool reconnects (or the plugin is reconfigured).
      void check.then(result => {
        if (result.ok) this.compatible.add(cacheKey)
        else if (result.reason === 'unreachable') this.hostChecks.delete(cacheKey)
      })
    }
    return check
  }

  private forgetCheck(cacheKey: string): void {
    this.hostChecks.delete(cacheKey)
    this.compatible.delete(cacheKey)
  }

  private createEntry(key: string, host: HostRef, bridge: string): Entry {
    const entry: Entry = {
      key,
      poolId: host.poolId,
      hostRef: host.hostRef,
      hostUuid: host.hostUuid,
      hostName: host.hostName,
      bridge,
      target: null,
      settled: null,
      scheduled: false,
    }
    this.entries.set(key, entry)
    return entry
  }

  private needsWork(entry: Entry): boolean {
    const want = targetText(entry.target)
    return !this.settled(entry, want) && entry.failedFor !== want && entry.revertedFor !== want
  }

  private settled(entry: Entry, want: string | null): boolean {
    if (want !== entry.settled) return false
    return want === null || !(entry.endRevert || entry.doubted || entry.refusedFor === want)
  }

  private kick(entry: Entry): void {
    if (entry.scheduled || !this.needsWork(entry) || this.queue.isClosed) return
    if (this.isPaused(entry.poolId, (entry.target ?? entry).hostRef)) return
    entry.scheduled = true
    const label = `${entry.hostName}/${entry.bridge}`
    this.queue
      .run(entry.hostUuid, label, () => this.step(entry), this.timeoutFor(entry))
      .then(
        () => undefined,
        error => {
          if (error instanceof QueueClosedError) return
          const want = targetText(entry.target)
          entry.failedFor = want
          // The pool or host may be back later without any event telling us: look again.
          if (isTransient(error)) this.retryLater(entry, want)
          this.log.error(
            `${entry.target ? 'apply' : 'release'} failed on host ${JSON.stringify(entry.hostName)} for bridge ${entry.bridge}`,
            {
              error,
              reason: describeError(error),
              host: entry.hostUuid,
              bridge: entry.bridge,
            },
          )
        },
      )
      .finally(() => {
        entry.scheduled = false
        this.kick(entry)
      })
  }

  /**
   * An apply may wait for its gateway check on each family before answering; one from a new
   * configuration then waits, at most until its deadline, to confirm it.
   */
  private timeoutFor(entry: Entry): number | undefined {
    const { target } = entry
    if (!target) return undefined
    const check = Number(target.args['gateway-check'] ?? DEFAULT_GATEWAY_CHECK_SECONDS)
    const window = this.needsWindow(entry, targetText(target)) ? this.confirmSeconds() : 0
    return Math.max(this.minimumTimeoutMs, (2 * check + window + CALL_OVERHEAD_SECONDS) * 1000)
  }

  /** One attempt; the queue retries it. Reads the target afresh each time. */
  private async step(entry: Entry): Promise<void> {
    const target = entry.target
    const want = targetText(target)
    if (this.settled(entry, want)) return
    const xapi = this.getXapi(entry.poolId)
    if (!xapi) throw new PoolNotConnectedError(`the pool of host ${JSON.stringify(entry.hostName)} is not connected`)
    const host = target ?? entry
    const check = await this.hostCheck(xapi, host)
    if (!check.ok) {
      if (check.reason === 'unreachable') throw new Error(check.message)
      this.hostUnusable(entry, check.reason, check.message, want)
      return
    }
    try {
      await this.call(xapi, entry, target, want)
    } catch (error) {
      // Removed since the check: forget the check, say what to do, wait for a change.
      if (!isMissingPlugin(error)) throw error
      this.forgetCheck(`${entry.poolId}/${entry.hostUuid}`)
      this.hostUnusable(entry, 'missing', `host plugin ${PLUGIN_NAME} is not installed: ${INSTALL_HINT}`, want)
    }
  }

  private hostUnusable(entry: Entry, reason: string, message: string, want: string | null): void {
    this.once.warn(`${entry.hostUuid}:${reason}`, `host ${JSON.stringify(entry.hostName)}: ${message}`, {
      host: entry.hostUuid,
      plugin: PLUGIN_NAME,
    })
    entry.failedFor = want
    // Installing the host plugin needs no restart of anything: notice it by asking again.
    this.retryLater(entry, want, () => this.forgetCheck(`${entry.poolId}/${entry.hostUuid}`))
  }

  private retryLater(entry: Entry, want: string | null, before?: () => void): void {
    const timer = setTimeout(() => {
      this.laterTimers.delete(timer)
      if (entry.failedFor !== want) return
      before?.()
      entry.failedFor = undefined
      this.kick(entry)
    }, this.retryLaterMs)
    this.laterTimers.add(timer)
  }

  private async call(
    xapi: XapiConnection,
    entry: Entry,
    target: DesiredBinding | null,
    want: string | null,
  ): Promise<void> {
    if (!target) return this.release(xapi, entry)
    const started = Date.now()
    const window = this.needsWindow(entry, want) ? this.confirmSeconds() : 0
    if (window > 0) return this.applyConfirmed(xapi, entry, target, window, started)
    // apply-many even alone: refuse-changes, and its answer says what else the host holds.
    // The targets as they are now: an entry's may change while the call is under way.
    if (!this.singleApplyHosts.has(entry.hostUuid)) {
      const companions = this.companionsOf(entry, target)
      const targets = [target, ...companions.map(e => e.target!)]
      if (await this.applyMany(xapi, [entry, ...companions], targets, started)) return
    }
    const result = await this.client.apply(xapi, target.hostRef, target.args)
    this.applied(entry, target, want, result, started)
  }

  /**
   * A change from a new configuration, or any target other than what the host holds (after
   * xo-server restarted, it no longer knows which configuration was new): never re-applying
   * an unchanged binding on a VIF plug.
   */
  private needsWindow(entry: Entry, want: string | null): boolean {
    if (entry.confirmFor === want || entry.refusedFor === want || entry.endRevert === true) return true
    if (entry.target && this.revertedInPool(entry.target)) return true
    return !entry.doubted && entry.settled !== null && entry.settled !== want
  }

  /**
   * A host of the pool reverted this target: as we saw it (our confirmation failed), or as the
   * pool's holds say (shared/pool-holds.ts: any host's revert, whoever made the change, even
   * before xo-server last started).
   */
  private revertedInPool(target: DesiredBinding): boolean {
    const text = samePoolWide(target)
    if (this.poolReverts.get(poolBridge(target)) === text) return true
    const holds = readPoolHolds({ ...(this.getXapi(target.poolId)?.pool?.other_config ?? {}) })
    return Object.values(holds.networks).some(hold => hold.arguments === text)
  }

  /**
   * A change from a new configuration: applied with a window, then confirmed through a new
   * connection to the host. If that fails the host reverts by itself; the target is not
   * applied again until the configuration changes (it would cut the host off again).
   */
  private async applyConfirmed(
    xapi: XapiConnection,
    entry: Entry,
    target: DesiredBinding,
    window: number,
    started: number,
  ): Promise<void> {
    const want = targetText(target)!
    const result = await this.client.apply(xapi, target.hostRef, { ...target.args, confirm: String(window) })
    const { token, deadline } = result.confirmation ?? { token: '', deadline: '' }
    let confirmed: ConfirmAnswer | void = undefined
    try {
      if (token) confirmed = await this.confirmChange(target, token, deadline)
    } catch (error) {
      entry.confirmFor = undefined
      entry.endRevert = undefined
      entry.revertedFor = want
      this.poolReverts.set(poolBridge(target), samePoolWide(target))
      const reason = describeError(error)
      const note = { hostUuid: target.hostUuid, hostName: target.hostName, bridge: target.bridge, deadline, reason }
      this.reverts.set(entry.key, { ...note, at: new Date().toISOString() })
      this.log.error(
        `host ${JSON.stringify(target.hostName)} could not be reached on a new connection after the change of bridge ${target.bridge}: it reverts the change by itself at ${deadline}`,
        { error, reason, host: target.hostUuid, bridge: target.bridge },
      )
      return
    }
    entry.confirmFor = undefined
    entry.endRevert = undefined
    this.reverts.delete(entry.key)
    if (this.poolReverts.get(poolBridge(target)) === samePoolWide(target)) this.poolReverts.delete(poolBridge(target))
    this.applied(entry, target, want, result, started)
    if (confirmed?.othersUnconfirmed) this.lookAgainAfter(entry, confirmed.deadline)
  }

  /**
   * Our change is confirmed but shares its window with changes nobody confirmed yet: if the
   * host reverts the window at its deadline, ours goes too. Looked at again then (refused as
   * reverted, it is applied again with a window of its own).
   */
  private lookAgainAfter(entry: Entry, deadline: string): void {
    const timer = setTimeout(
      () => {
        this.laterTimers.delete(timer)
        entry.doubted = true
        this.kick(entry)
      },
      Math.max(0, Date.parse(deadline) - Date.now()) + REVERT_GRACE_MS,
    )
    this.laterTimers.add(timer)
  }

  /**
   * The other bindings of this host still waiting for their turn in its queue: they go in
   * the same call (one apply-many, one lock and one kernel read on the host). Their own
   * turn then finds them settled, or tries them alone if they failed here.
   */
  private companionsOf(entry: Entry, target: DesiredBinding): Entry[] {
    return (
      [...this.entries.values()]
        // A change that needs a confirmation window goes alone, in its own turn, with its window.
        .filter(
          e =>
            e !== entry &&
            e.scheduled &&
            e.target?.hostRef === target.hostRef &&
            this.needsWork(e) &&
            !this.needsWindow(e, targetText(e.target)),
        )
        .slice(0, MAX_APPLY_MANY - 1)
    )
  }

  /**
   * false when the host plugin predates apply-many (then one apply per bridge, as before).
   * With a confirmation window configured, the host refuses what would change a binding
   * without one: those entries learn what it holds and take their turn with a window.
   */
  private async applyMany(
    xapi: XapiConnection,
    batch: Entry[],
    targets: DesiredBinding[],
    started: number,
  ): Promise<boolean> {
    let answer: ApplyManyResult
    try {
      answer = await this.client.applyMany(
        xapi,
        targets[0]!.hostRef,
        targets.map(t => t.args),
        this.confirmSeconds() > 0,
      )
    } catch (error) {
      if (!isUnknownFunction(error)) throw error
      this.singleApplyHosts.add(batch[0]!.hostUuid)
      return false
    }
    answer.results.forEach((result, i) => {
      if (result.ok) this.applied(batch[i]!, targets[i]!, targetText(targets[i]!), result, started)
      else if (result.errorDescription[0] === ErrorCode.NEEDS_CONFIRMATION)
        this.refused(batch[i]!, targets[i]!, result.errorDescription)
    })
    if (answer.holds) this.learnHolds(batch, targets[0]!, answer.holds)
    const own = answer.results[0]
    if (own && !own.ok && own.errorDescription[0] !== ErrorCode.NEEDS_CONFIRMATION)
      throw pluginError(own.errorDescription)
    return true
  }

  /** [code, message, bridge, 'reverted' | 'changed', the arguments it holds as JSON, or ''] */
  private refused(entry: Entry, sent: DesiredBinding, [, , , reason, held]: string[]): void {
    entry.settled = held ? canonicalArgs(JSON.parse(held) as Record<string, string>) : null
    entry.refusedFor = targetText(sent)!
    entry.doubted = undefined
    this.log.info(
      `host ${JSON.stringify(entry.hostName)} holds ${reason === 'reverted' ? 'a reverted change of' : 'another binding on'} bridge ${entry.bridge}: applying it with a confirmation window`,
      { host: entry.hostUuid, bridge: entry.bridge },
    )
  }

  /**
   * The host's other bridges, as its apply-many answer lists them: what `status` would have
   * told. Known keys take the host's word; a bridge we did not know is learned only if it
   * is ours to manage (a binding the admin applied by hand stays theirs).
   */
  private learnHolds(batch: Entry[], host: HostRef, holds: Record<string, Record<string, string>>): void {
    const { poolId, hostUuid } = host
    const inBatch = new Set(batch.map(e => e.bridge))
    const learned: Entry[] = []
    for (const entry of this.entries.values()) {
      if (entry.hostUuid !== hostUuid || inBatch.has(entry.bridge)) continue
      const held = holds[entry.bridge]
      if ((held ? canonicalArgs(held) : null) !== entry.settled || entry.doubted) learned.push(entry)
    }
    for (const bridge of Object.keys(holds)) {
      if (inBatch.has(bridge) || this.entries.has(`${hostUuid}/${bridge}`) || !this.ownsBridge(poolId, bridge)) continue
      learned.push(this.createEntry(`${hostUuid}/${bridge}`, host, bridge))
    }
    for (const entry of learned) {
      const held = holds[entry.bridge]
      entry.settled = held ? canonicalArgs(held) : null
      entry.doubted = undefined
      this.kick(entry)
    }
  }

  private applied(
    entry: Entry,
    target: DesiredBinding,
    want: string | null,
    result: ApplyResult,
    started: number,
  ): void {
    // Re-sent after a reconnection and found in place: its storage was seen to when it was bound.
    const found = entry.doubted === true && result.changes.length === 0
    entry.hostRef = target.hostRef
    entry.settled = want
    entry.doubted = entry.refusedFor = undefined
    this.log.info(`applied on host ${JSON.stringify(target.hostName)} bridge ${target.bridge}`, {
      host: target.hostUuid,
      bridge: target.bridge,
      changes: result.changes.length,
      gatewayChecks: result.gatewayChecks,
      ms: Date.now() - started,
    })
    try {
      if (!found) this.onApplied(target)
    } catch (error) {
      this.log.error('after-apply hook failed', { error, host: target.hostUuid })
    }
    if (target.noManagementPif) {
      this.once.warn(
        `${target.hostUuid}:no-management-pif`,
        `host ${JSON.stringify(target.hostName)} has no management PIF: the management address is not mirrored there`,
        { host: target.hostUuid },
      )
    }
  }

  private async release(xapi: XapiConnection, entry: Entry): Promise<void> {
    const started = Date.now()
    const result = await this.client.release(xapi, entry.hostRef, entry.bridge)
    entry.settled = null
    entry.doubted = undefined
    this.log.info(`released on host ${JSON.stringify(entry.hostName)} bridge ${entry.bridge}`, {
      host: entry.hostUuid,
      bridge: entry.bridge,
      released: result.released,
      changes: result.changes.length,
      ms: Date.now() - started,
    })
  }
}

/** A bridge's failure inside apply-many, shaped as xapi reports a plugin's own failure. */
function pluginError(errorDescription: string[]): Error {
  const [code, ...params] = errorDescription
  return Object.assign(new Error(params[0] ?? code), { code, params })
}
