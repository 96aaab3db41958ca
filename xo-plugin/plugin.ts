// The plugin instance xo-server drives: configure (validate, resolve, write the pools'
// copy, take effect if loaded), load (watch every pool, reconcile on each connection),
// test (report) and unload (stop listening; never touch dom0 on the way out: XO stopping
// must not cut a host off).

import type { ConfirmResult } from '../shared/results.ts'
import { type Binding, POOL_CONFIG_KEY, type PluginConfig, parsePluginConfig } from '../shared/binding.ts'
import { PLUGIN_NAME } from '../shared/version.ts'
import { CallQueue, type CallQueueOptions, DEFAULT_CALL_QUEUE_OPTIONS } from './call-queue.ts'
import { Converger } from './converger.ts'
import { type DesiredBinding, desiredForPool } from './desired.ts'
import { confirmThroughHost } from './host-connection.ts'
import {
  type EffectiveConfig,
  effectiveConfig,
  hostDocumentKept,
  hostDocumentUnbound,
  hostPause,
} from './effective-config.ts'
import { TX_OFF_NOTE, turnTxChecksumOff } from './firewall-vifs.ts'
import { HostPluginClient, describeError, isTransient } from './host-plugin.ts'
import { refreshHookIndexes } from './index-refresh.ts'
import { type Logger, OnceLogger } from './log.ts'
import { poolConfigText, writePoolConfig } from './pool-config.ts'
import { PoolWatch } from './pool-watch.ts'
import { FreshRecords } from './fresh-records.ts'
import { PlugWatch, type XapiEvent } from './plug-watch.ts'
import { DEFAULT_PLUG_SRS_OPTIONS, type PlugSrsOptions, SrPlugger } from './sr-plugger.ts'
import { type Resolution, resolveBindings } from './resolve.ts'
import { type ConfirmingNote, type TestReport, buildTestReport } from './test-report.ts'
import { failureSummary, runTestTask } from './test-task.ts'
import { Names } from './names.ts'
import { configurationRefused, invalidTestData, testFailed } from './xo-errors.ts'
import {
  type HostRecord,
  type NetworkRecord,
  PoolIndex,
  type PoolRecord,
  type ServerEvent,
  type XapiConnection,
  type XoApp,
} from './xapi-types.ts'

// How long a reaction waits after the last event of its burst (and at most five times as
// long after its first). None: xen-api hands over each event.from answer in one synchronous
// flush (add, update, remove), which a zero timer already gathers into one recomputation,
// and spaces its answers itself (its `debounce`, 200 ms unless xo-server's xapiOptions say
// otherwise), so a longer wait here would merge no two answers: it would only make every
// binding later. A recomputation costs 0.5 to 4 ms (bench, 1,000 to 10,000 VMs) and a burst
// still costs at most the calls its final state needs (one job per key, reading its target
// when it runs).
const DEBOUNCE_MS = 0

export interface PluginOptions {
  log: Logger
  queue?: Partial<Omit<CallQueueOptions, 'isTransient'>>
  /** How long `configure` waits for connecting pools' records before judging references. */
  fetchTimeoutMs?: number
  /** Quiet time after a pool's last relevant event before the desired state is recomputed. */
  debounceMs?: number
  /** After a call's retries are spent on a transient error, when to try again. */
  retryLaterMs?: number
  /** plug-srs after an apply: how long the host waits for storage, and we for the host. */
  plugSrs?: Partial<PlugSrsOptions>
  /**
   * Where Xen Orchestra reaches a host's xapi when not at the host's address (NAT): host
   * address → URL, for the new connection that confirms a change.
   */
  hostUrls?: Record<string, string>
}

interface AttachedPool {
  id: string
  xapi: XapiConnection
  watch: PoolWatch
  /** The bound VMs' and VIFs' events, ahead of the cache (plug-watch.ts), and what they told. */
  plugs?: PlugWatch
  fresh?: FreshRecords
  poolId?: string
  ready: Promise<void>
}

// A poll that fails this many times in a row is not a reconnection: the admin is told.
const PLUG_WATCH_FAILURES_TOLD = 3

function stopWatching(pool: AttachedPool): void {
  pool.watch.stop()
  pool.plugs?.stop()
  pool.fresh?.stop()
}

interface ActiveConfig {
  bindings: Binding[]
  gatewayCheckSeconds: number
  rescue: boolean
  autoStart: boolean
  fixVifChecksum: boolean
  confirmSeconds: number
}

/** xo-server's config.toml may set these: a bad value is said once and replaced by the default. */
function plugSrsOptions(given: Partial<PlugSrsOptions> | undefined, log: Logger): PlugSrsOptions {
  const options = { ...DEFAULT_PLUG_SRS_OPTIONS, ...given }
  const { timeoutSeconds } = options
  // The host plugin refuses more than an hour.
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > 3600) {
    log.warn(
      `plugSrs.timeoutSeconds ${JSON.stringify(timeoutSeconds)} is not a whole number of seconds from 0 to 3600: using ${DEFAULT_PLUG_SRS_OPTIONS.timeoutSeconds}`,
    )
    options.timeoutSeconds = DEFAULT_PLUG_SRS_OPTIONS.timeoutSeconds
  }
  return options
}

/** `data` as xo-web or a script sends it: nothing, `{}`, or `{ binding: n }` (1-based). */
function testedBinding(data: unknown, count: number): number | undefined {
  if (data === undefined || data === null) return undefined
  const binding = typeof data === 'object' ? (data as { binding?: unknown }).binding : data
  if (binding === undefined || binding === null || binding === '') return undefined
  if (!Number.isInteger(binding) || (binding as number) < 1 || (binding as number) > count) {
    throw invalidTestData(
      `binding ${JSON.stringify(binding)} does not exist (there ${count === 1 ? 'is 1 binding' : `are ${count} bindings`}: give 1 to ${count}, or nothing to test them all)`,
    )
  }
  return (binding as number) - 1
}

function timeout(ms: number): Promise<'timeout'> {
  return new Promise(resolve => setTimeout(resolve, ms, 'timeout').unref())
}

export class VifIpBinderPlugin {
  private readonly log: Logger
  private readonly once: OnceLogger
  private readonly client = new HostPluginClient()
  private config: ActiveConfig | undefined
  private resolution: Resolution = { resolved: [], unresolved: [] }
  private loaded = false
  private queue!: CallQueue
  private converger!: Converger
  /** Outlives unload/load: the Test report keeps the latest SR outcomes. */
  private readonly plugger: SrPlugger
  private readonly pools = new Map<string, AttachedPool>()
  private readonly serverIds = new WeakMap<XapiConnection, string>()
  /** Per pool: what we last wrote and what it replaced, to tell a stale cache from a change. */
  private readonly written = new Map<string, { text: string | undefined; replaced: string | undefined }>()
  /** Changes being confirmed now, by host/bridge key: Test tells them even when the host does not answer. */
  private readonly confirming = new Map<string, ConfirmingNote>()
  private nextServerId = 0

  constructor(
    private readonly xo: XoApp,
    private readonly options: PluginOptions,
  ) {
    this.log = options.log
    this.once = new OnceLogger(this.log)
    this.plugger = new SrPlugger(poolId => this.xapiOfPool(poolId), this.log, plugSrsOptions(options.plugSrs, this.log))
    this.createMachinery()
  }

  // -------------------------------------------------------------------------------------
  // xo-server lifecycle

  async configure(raw: PluginConfig, { loaded }: { loaded?: boolean }): Promise<void> {
    let parsed: ActiveConfig
    try {
      parsed = parsePluginConfig(raw)
    } catch (error) {
      const names = new Names(Object.values(this.xo.getAllXapis()).filter(x => x.pool !== undefined))
      throw configurationRefused(error, text => names.rename(text))
    }
    const xapis = await this.fetchedXapis(this.options.fetchTimeoutMs ?? 10_000)
    const names = new Names(xapis)
    let resolution: Resolution
    try {
      resolution = resolveBindings(parsed.bindings, xapis)
    } catch (error) {
      throw configurationRefused(error, text => names.rename(text))
    }
    // xo-server re-applies the saved configuration at start-up, before its pools are
    // connected: a VM no connected pool has yet is then waited for, and a binding that no
    // longer resolves (network renamed, SR gone) is reported, not refused: a refusal there
    // leaves the plugin unregistered and off until someone saves again. A configuration
    // that differs from the saved one is new, and any problem in it is refused, first
    // configuration included.
    const reapplied = !loaded && (await this.isSavedConfiguration(parsed))
    for (const problem of resolution.unresolved.sort((a, b) => a.index - b.index)) {
      if (!reapplied) throw configurationRefused(problem.error, text => names.rename(text))
      this.log.warn(
        `${problem.error.message}; ${problem.kind === 'vm-unknown' ? 'checked again when its pool connects' : "the pools' documents stay as they are until XO's settings are saved again"}`,
      )
    }
    this.config = parsed
    this.resolution = resolution
    // Saving the settings page is an explicit write: it replaces a document written on a host.
    await this.writePoolConfigs(xapis, !reapplied)
    if (this.loaded) for (const pool of this.pools.values()) if (pool.poolId) this.converger.forgetFailures(pool.poolId)
    if (this.loaded) this.reconcileAll(true)
  }

  async load(): Promise<void> {
    if (this.queue.isClosed) this.createMachinery()
    this.loaded = true
    this.xo.on('server:connected', this.onConnected)
    this.xo.on('server:disconnected', this.onDisconnected)
    for (const [id, xapi] of Object.entries(this.xo.getAllXapis())) this.attach(id, xapi)
  }

  async unload(): Promise<void> {
    this.loaded = false
    this.xo.removeListener('server:connected', this.onConnected)
    this.xo.removeListener('server:disconnected', this.onDisconnected)
    for (const pool of this.pools.values()) stopWatching(pool)
    this.pools.clear()
    this.queue.close()
    this.converger.close()
    this.plugger.close()
  }

  /**
   * The Test button. xo-web sends no data (the plugin has no testSchema: with one,
   * xo-server refuses the untouched, empty form); `{ binding: n }` tests one binding
   * (`plugin.test` from a script).
   */
  async test(data?: unknown): Promise<TestReport> {
    if (!this.config) throw testFailed('vif-ip-binder is not configured: save a configuration first')
    const only = testedBinding(data, this.config.bindings.length)
    const config = this.config
    const names = new Names(Object.values(this.xo.getAllXapis()).filter(x => x.pool !== undefined))
    return runTestTask(
      this.xo.tasks,
      async () => {
        const report = await buildTestReport({
          resolution: this.resolution,
          gatewayCheckSeconds: config.gatewayCheckSeconds,
          effective: poolId => this.poolConfiguration(poolId),
          getXapi: poolId => this.xapiOfPool(poolId),
          client: this.client,
          srStates: this.plugger,
          reverts: this.converger.reverts,
          confirming: this.confirming,
          only,
        })
        this.log.info(report.text)
        return report
      },
      report => {
        const { message, problems } = failureSummary(report, this.xo.tasks !== undefined, text => names.rename(text))
        return testFailed(message, problems)
      },
    )
  }

  private async isSavedConfiguration(parsed: ActiveConfig): Promise<boolean> {
    if (!this.xo.getOptionalPlugin) return this.config === undefined // xo-server without it: the start-up call is the first
    const saved = (await this.xo.getOptionalPlugin(PLUGIN_NAME))?.configuration
    if (saved === undefined) return false
    try {
      return JSON.stringify(parsePluginConfig(saved as PluginConfig)) === JSON.stringify(parsed)
    } catch {
      return false
    }
  }

  /** Resolves once every pool is attached and every host call, plug-srs included, has settled (tests, demo). */
  async whenIdle(): Promise<void> {
    for (;;) {
      await Promise.all([...this.pools.values()].map(p => p.ready))
      await this.queue.idle()
      await this.plugger.idle()
      if ([...this.pools.values()].every(p => !p.watch.busy)) {
        await this.queue.idle()
        // An apply that ran meanwhile may have started a plug-srs: then wait again.
        if (!this.plugger.busy) return
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  /** (host/bridge) keys whose host does not hold the target yet. */
  pendingKeys(): string[] {
    return this.converger.pending()
  }

  // -------------------------------------------------------------------------------------

  private createMachinery(): void {
    const queueOptions = { ...DEFAULT_CALL_QUEUE_OPTIONS, ...this.options.queue }
    this.queue = new CallQueue({
      ...queueOptions,
      isTransient,
      onRetry: (label, attempt, delayMs, error) =>
        this.log.warn(`${label}: attempt ${attempt} failed, retrying in ${delayMs} ms`, {
          error,
          reason: describeError(error),
        }),
    })
    this.converger = new Converger(
      this.queue,
      this.client,
      poolId => this.xapiOfPool(poolId),
      this.log,
      this.options.retryLaterMs,
      queueOptions.timeoutMs,
    )
    // A paused host is the admin's: nothing is applied or released there until resume.
    this.converger.isPaused = (poolId, hostRef) => hostPause(this.xapiOfPool(poolId), hostRef) !== undefined
    // Only once the addresses and the default route are in place can the storage answer.
    this.converger.onApplied = target => this.plugger.start(target)
    this.converger.confirmSeconds = () => this.config?.confirmSeconds ?? 0
    this.converger.confirmChange = (target, token, deadline) => this.confirmChange(target, token, deadline)
    this.converger.ownsBridge = (poolId, bridge) => {
      const pool = [...this.pools.values()].find(p => p.poolId === poolId)
      return pool !== undefined && this.configBridges(pool).has(bridge)
    }
  }

  private readonly onConnected = ({ server, xapi }: ServerEvent) => {
    this.attach(server?.id ?? this.serverIdOf(xapi), xapi)
  }

  private readonly onDisconnected = ({ server, xapi }: ServerEvent) => {
    const id = server?.id ?? this.serverIdOf(xapi)
    const pool = this.pools.get(id)
    if (pool?.xapi !== xapi) return
    stopWatching(pool)
    this.pools.delete(id)
    this.log.info(
      `pool ${JSON.stringify(xapi.pool?.name_label ?? id)} disconnected; it is reconciled when it reconnects`,
    )
  }

  private serverIdOf(xapi: XapiConnection): string {
    let id = this.serverIds.get(xapi)
    if (!id) this.serverIds.set(xapi, (id = `server-${++this.nextServerId}`))
    return id
  }

  private xapiOfPool(poolId: string): XapiConnection | undefined {
    for (const pool of this.pools.values()) if (pool.poolId === poolId) return pool.xapi
    return undefined
  }

  /**
   * Connections whose records are all cached. Connected pools are waited for (up to
   * `waitMs`: their records are on the way); pools still connecting are not (at xo-server
   * start-up that can take minutes).
   */
  private async fetchedXapis(waitMs: number): Promise<XapiConnection[]> {
    const xapis = Object.values(this.xo.getAllXapis())
    const fetched = new Set<XapiConnection>()
    const waits = xapis.map(x => x.objectsFetched.then(() => fetched.add(x)))
    const connected = xapis.filter(x => x.pool !== undefined)
    await Promise.race([Promise.all(connected.map(x => waits[xapis.indexOf(x)])), timeout(waitMs)])
    return xapis.filter(x => fetched.has(x) && x.pool !== undefined)
  }

  private attach(id: string, xapi: XapiConnection): void {
    const previous = this.pools.get(id)
    if (previous?.xapi === xapi && previous.poolId) {
      // Same connection announced again: treat as a reconnection.
      previous.ready = this.onPoolReady(previous)
      return
    }
    if (previous) stopWatching(previous)
    const pool: AttachedPool = {
      id,
      xapi,
      // Listening before the fetch completes: nothing that happens in between is missed.
      watch: new PoolWatch(xapi, this.options.debounceMs ?? DEBOUNCE_MS, () => this.reconcile(pool)),
      ready: Promise.resolve(),
    }
    this.pools.set(id, pool)
    pool.ready = (async () => {
      await xapi.objectsFetched
      if (this.pools.get(id) !== pool || !xapi.pool) return
      pool.poolId = xapi.pool.uuid
      this.watchPlugs(pool)
      await this.onPoolReady(pool)
    })().catch(error => this.log.error('could not start watching a pool', { error, server: id }))
  }

  /** On load and every (re)connection: resolve again, write the pool's copy, learn what the hosts hold, converge. */
  private async onPoolReady(pool: AttachedPool): Promise<void> {
    const { xapi, poolId } = pool
    if (!poolId || !this.loaded) return
    this.log.info(`pool ${JSON.stringify(xapi.pool?.name_label)} connected: reconciling`)
    if (this.config) {
      const ready = [...this.pools.values()].filter(p => p.poolId).map(p => p.xapi)
      try {
        this.resolution = resolveBindings(this.config.bindings, ready)
      } catch (error) {
        this.log.error('the configuration no longer resolves against the connected pools', { error })
      }
      for (const problem of this.resolution.unresolved) this.once.warn(problem.error.message, problem.error.message)
      await this.writePoolConfigs([xapi], false)
    }
    this.converger.forgetFailures(poolId)
    // Every target is sent again, each host's in one apply-many whose answer tells what else it
    // holds; only hosts without a target are asked, with `status`, what changed while XO was away.
    this.reconcile(pool)
    this.converger.doubt(poolId)
    await this.learnFromHosts(pool)
    if (this.pools.get(pool.id) === pool) this.reconcile(pool)
  }

  /** The bridges of the networks this pool's bindings name. */
  private configBridges(pool: AttachedPool): Set<string> {
    const effective = pool.poolId ? this.effective(pool) : undefined
    const index = new PoolIndex(pool.xapi)
    const bridges = new Set<string>()
    for (const r of effective?.resolved ?? []) {
      if (r.poolId !== pool.poolId) continue
      const bridge = index.uuid<NetworkRecord>(r.networkUuid, 'network')?.bridge
      if (bridge) bridges.add(bridge)
    }
    return bridges
  }

  /**
   * Asks each host without a target what it holds for the bound networks' bridges, so that
   * what changed while XO was away (a VM stopped or moved, XO restarted) is released.
   */
  private async learnFromHosts(pool: AttachedPool): Promise<void> {
    const { xapi, poolId } = pool
    if (!poolId || !this.effective(pool) || this.pools.get(pool.id) !== pool) return
    const bridges = this.configBridges(pool)
    await Promise.all(
      new PoolIndex(xapi).all<HostRecord>('host').map(async record => {
        const host = { poolId, hostRef: record.$ref, hostUuid: record.uuid, hostName: record.name_label }
        const wanted = new Set([...bridges, ...this.converger.boundBridges(record.uuid)])
        if (wanted.size === 0 || this.converger.hasTargets(record.uuid)) return
        try {
          await this.queue.run(record.uuid, `${record.name_label}/status`, async () => {
            const check = await this.converger.hostCheck(xapi, host)
            if (!check.ok) return
            const { bridges: recorded, lastRevert } = await this.client.status(xapi, record.$ref)
            for (const bridge of wanted) {
              const reverted = lastRevert?.bridges.includes(bridge) === true
              this.converger.learn(host, bridge, recorded[bridge]?.recorded?.desired ?? null, reverted)
            }
          })
        } catch (error) {
          this.log.debug(`could not read what host ${JSON.stringify(record.name_label)} holds`, { error })
        }
      }),
    )
  }

  /** `fromConfiguration`: a saved configuration; its changes are applied with a confirmation window. */
  private reconcileAll(fromConfiguration = false): void {
    for (const pool of this.pools.values()) if (pool.poolId) this.reconcile(pool, fromConfiguration)
  }

  /** Through a new connection to the host's own address, never the pool connection. */
  private async confirmChange(target: DesiredBinding, token: string, deadline: string): Promise<ConfirmResult> {
    const xapi = this.xapiOfPool(target.poolId)
    const index = xapi && new PoolIndex(xapi)
    const host = index?.uuid<HostRecord>(target.hostUuid, 'host')
    if (!xapi || !index || !host)
      throw new Error(`host ${JSON.stringify(target.hostName)} is no longer in a connected pool`)
    const isMaster = index.all<PoolRecord>('pool').some(pool => pool.master === host.$ref)
    const note: ConfirmingNote = { deadline }
    this.confirming.set(target.key, note)
    let confirmed: ConfirmResult
    try {
      confirmed = await confirmThroughHost(
        xapi,
        { ...host, isMaster },
        token,
        deadline,
        this.options.hostUrls,
        reason => {
          note.lastFailure = reason
        },
      )
    } finally {
      this.confirming.delete(target.key)
    }
    const data = { host: target.hostUuid, bridge: target.bridge }
    this.log.info(`host ${JSON.stringify(target.hostName)} confirmed the change of bridge ${target.bridge}`, data)
    if (confirmed.othersUnconfirmed)
      this.log.warn(
        `host ${JSON.stringify(target.hostName)}: ${confirmed.othersUnconfirmed} other change(s) in the same confirmation window (made by hand or by another caller) are not confirmed yet; unless they are by ${confirmed.deadline}, the host reverts the whole window, this change too, and Xen Orchestra applies it again then`,
        { ...data, deadline: confirmed.deadline },
      )
    return confirmed
  }

  /** The configuration in effect for a pool (see effective-config.ts), and where it comes from. */
  poolConfiguration(poolId: string): EffectiveConfig | undefined {
    const pool = [...this.pools.values()].find(p => p.poolId === poolId)
    return pool && this.effective(pool)
  }

  private effective(pool: AttachedPool): EffectiveConfig | undefined {
    if (!pool.poolId) return undefined
    // Saved settings with a binding that no longer resolves (network renamed, SR gone) would
    // release it: until they are saved again, the pools' documents are followed instead.
    const usable = !this.resolution.unresolved.some(u => u.kind === 'invalid')
    const xo =
      this.config && usable
        ? { resolved: this.resolution.resolved, gatewayCheckSeconds: this.config.gatewayCheckSeconds }
        : undefined
    return effectiveConfig(pool.xapi, pool.poolId, xo)
  }

  /** A bound VM's VIF plug, seen before xo-server's event pacing lets the cache see it. */
  private watchPlugs(pool: AttachedPool): void {
    const fresh = (pool.fresh = new FreshRecords(pool.xapi))
    const onEvents = (events: XapiEvent[]) => {
      const bound = new Set(this.effective(pool)?.resolved.map(r => r.vmUuid))
      let changed = false
      for (const { ref, snapshot, operation } of events) {
        const cached = operation === 'del' || !snapshot ? undefined : pool.xapi.getObjectByRef(ref, undefined)
        const vm = cached?.$type === 'VIF' ? pool.xapi.getObjectByRef(String(snapshot!.VM), undefined) : cached
        if (cached && vm?.$type === 'VM' && bound.has(vm.uuid)) changed = fresh.note(cached, snapshot!) || changed
      }
      if (changed) this.reconcile(pool)
    }
    const onLost = (error: unknown, failures: number) => {
      fresh.clear()
      if (failures < PLUG_WATCH_FAILURES_TOLD) return
      this.once.warn(
        `${pool.id}:plug-watch`,
        `pool ${JSON.stringify(pool.xapi.pool?.name_label)}: the plugin's own VM/VIF event poll failed (${describeError(error)}); until it works again, VIF plugs are seen through xo-server's event stream, up to its debounce later`,
        { error },
      )
    }
    pool.plugs = new PlugWatch(pool.xapi, onEvents, onLost)
    pool.plugs.start()
  }

  private reconcile(pool: AttachedPool, fromConfiguration = false): void {
    const effective = this.effective(pool)
    if (!this.loaded || !effective || !pool.poolId || this.pools.get(pool.id) !== pool) return
    const index = new PoolIndex(pool.xapi, pool.fresh?.view)
    const desired = desiredForPool(index, effective.resolved, effective.gatewayCheckSeconds)
    for (const conflict of desired.conflicts) this.once.warn(conflict, conflict)
    this.converger.setTargets(pool.poolId, desired.bindings, fromConfiguration)
  }

  /** The opt-in fix for pfSense/OPNsense VIFs; takes effect at each VIF's next plug. */
  private async turnTxChecksumOff(xapi: XapiConnection): Promise<void> {
    try {
      for (const vif of await turnTxChecksumOff(xapi, this.resolution.resolved)) {
        this.log.info(`VIF ${vif.uuid}: ${TX_OFF_NOTE}`)
      }
    } catch (error) {
      this.log.warn(
        `could not set ethtool-tx=off on the firewall VIFs of pool ${JSON.stringify(xapi.pool?.name_label)}`,
        {
          error,
          reason: describeError(error),
        },
      )
    }
  }

  private async writePoolConfigs(xapis: XapiConnection[], explicit: boolean): Promise<void> {
    if (!this.config) return
    const { gatewayCheckSeconds, rescue, autoStart } = this.config
    const settings = { gatewayCheckSeconds, rescue, autoStart }
    await Promise.all(
      xapis.map(async xapi => {
        const poolId = xapi.pool?.uuid
        if (!poolId) return
        // A saved binding that no longer resolves stays in the documents until the settings are saved.
        if (!explicit && this.resolution.unresolved.some(u => u.kind === 'invalid')) return
        // A pool whose binding's VM is not resolved yet keeps its previous copy.
        if (
          this.resolution.unresolved.some(u => u.kind === 'vm-unknown') &&
          !this.resolution.resolved.some(r => r.poolId === poolId)
        ) {
          if (xapi.pool?.other_config?.[POOL_CONFIG_KEY] !== undefined) return
        }
        if (this.config?.fixVifChecksum) await this.turnTxChecksumOff(xapi)
        const text = poolConfigText(poolId, this.resolution.resolved, settings)
        const current = xapi.pool?.other_config?.[POOL_CONFIG_KEY]
        const kept =
          text === undefined ? hostDocumentUnbound(xapi) : explicit ? undefined : hostDocumentKept(xapi, text)
        if (kept) return this.once.warn(kept, kept)
        const last = this.written.get(poolId)
        // Our own write not yet echoed back by the event stream: nothing to do.
        if (last && last.text === text && current === last.replaced) return
        try {
          const outcome = await writePoolConfig(xapi, text)
          if (outcome !== 'unchanged') this.written.set(poolId, { text, replaced: current })
          if (outcome !== 'unchanged')
            this.log.info(`pool ${JSON.stringify(xapi.pool?.name_label)}: bindings ${outcome} in other_config`)
          // Every host's hook, not only those XO applies on: the firewall may start on any.
          if (outcome !== 'unchanged') void refreshHookIndexes(this.queue, this.client, xapi, this.log)
        } catch (error) {
          this.log.warn(
            `could not write the bindings into pool ${JSON.stringify(xapi.pool?.name_label)}'s other_config (read-only connection?)`,
            {
              error,
              reason: describeError(error),
            },
          )
        }
      }),
    )
  }
}
