// The programmatic API: startSimulator(scenario) builds the namespaces, the records and
// the listeners, and returns a Simulator handle to drive the pool from tests (start, stop,
// migrate VMs, plug PBDs, inject faults, read records and the timeline) and to stop it,
// which removes everything it created.

import { chmod, lstat, symlink, writeFile, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BridgeKind, Bridges } from '../helpers/bridges.ts'
import { Api } from './api.ts'
import { XapiFailure } from './errors.ts'
import { EventService } from './events.ts'
import { type ConnectionFault, type CallMatch, callMatches, FaultController, type PluginFault } from './faults.ts'
import { registerGenericMethods } from './generic-methods.ts'
import { Lifecycle } from './lifecycle.ts'
import { sweepSimLeftovers } from './leftovers.ts'
import { registerMethods } from './methods.ts'
import { buildModel, type Model } from './model.ts'
import { RpcServer } from './rpc-server.ts'
import { pingFrom } from './netns-tools.ts'
import { DEFAULT_USERS, type ScenarioDefinition } from './scenario.ts'
import { firewallPool } from './scenarios/firewall-pool.ts'
import { SessionStore, type User } from './sessions.ts'
import { Storage } from './storage.ts'
import { ObjectStore, type XapiClass, type XapiRecord } from './store.ts'
import { Timeline } from './timeline.ts'
import { applyRoutes, type ExternalRuntime, type HostRuntime, type VmRuntime, World } from './topology.ts'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const BUILT_HOST_PLUGIN = join(REPO_ROOT, 'dist/xapi-plugin/vif-ip-binder')
export const HOST_PLUGIN_NAME = 'vif-ip-binder'

export const SCENARIOS: Record<string, () => ScenarioDefinition> = {
  'firewall-pool': () => firewallPool(),
}

export interface StartOptions {
  /** A definition, or the name of a ready-made one ("firewall-pool"). */
  scenario: ScenarioDefinition | string
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number
  /**
   * Host plugin to install as <root>/etc/xapi.d/plugins/vif-ip-binder (a symlink): a path,
   * true for the built dist/xapi-plugin/vif-ip-binder (must exist), false for none.
   * Default: the built one if it exists.
   */
  hostPlugin?: string | boolean
  /** The hosts' bridges: Linux bridges (default) or Open vSwitch, XCP-ng's default backend. */
  bridges?: BridgeKind
}

export interface SimHost {
  ref: string
  uuid: string
  name: string
  /** The namespace playing this host's dom0. */
  netns: string
  /** The directory standing for this host's `/`. */
  root: string
  /** <root>/var/lib/xcp/xapi: xapi's local unix socket. */
  socketPath: string
}

export interface SimVm {
  ref: string
  uuid: string
  name: string
  /** The namespace playing the guest (its eth<device> appear while it runs). */
  netns: string
}

export interface SimExternal {
  name: string
  netns: string
  bridge: string
}

/** The JSON line the CLI prints. */
export interface SimDescription {
  url: string
  user: string
  password: string
  bridges: BridgeKind
  /** `ovsdb`: each host's Open vSwitch database, for `ovs-vsctl --db=…` (OVS bridges only). */
  hosts: { uuid: string; name: string; netns: string; root: string; ovsdb?: string }[]
  vms: { uuid: string; name: string; netns: string }[]
}

export class Simulator {
  readonly store = new ObjectStore()
  readonly timeline = new Timeline()
  readonly faults = new FaultController(this.timeline)
  readonly events: EventService
  readonly sessions: SessionStore
  readonly api: Api
  readonly storage: Storage
  readonly users: User[]
  url = ''
  port = 0

  private world = new World()
  private model!: Model
  private hostRuntimes = new Map<string, HostRuntime>()
  private vmRuntimes = new Map<string, VmRuntime>()
  private externalRuntimes: ExternalRuntime[] = []
  private lifecycle: Lifecycle
  private server?: RpcServer
  private stopController = new AbortController()
  private stopped = false

  constructor(readonly scenario: ScenarioDefinition) {
    this.users = scenario.users ?? DEFAULT_USERS
    this.sessions = new SessionStore(this.users)
    this.events = new EventService(this.store)
    this.api = new Api(this.store, this.sessions)
    this.lifecycle = new Lifecycle(this.store, this.world, this.hostRuntimes, this.vmRuntimes, this.timeline)
    this.storage = new Storage(this.store, this.hostRuntimes, this.timeline)
    registerGenericMethods(this.api, this.store)
    registerMethods({
      api: this.api,
      store: this.store,
      sessions: this.sessions,
      events: this.events,
      lifecycle: this.lifecycle,
      storage: this.storage,
      faults: this.faults,
      timeline: this.timeline,
      hosts: this.hostRuntimes,
      stopSignal: () => this.stopController.signal,
    })
    this.api.taskHost = () => this.poolRecord().master as string
  }

  // ---- boot and teardown -------------------------------------------------------------

  /** @internal use startSimulator() */
  async boot(options: StartOptions): Promise<void> {
    await sweepSimLeftovers()
    await this.world.init({ bridges: options.bridges })
    this.model = buildModel(this.store, this.scenario)
    const def = this.scenario

    for (const e of def.externals ?? []) this.externalRuntimes.push(await this.world.createExternal(e))

    let hostIndex = 0
    for (const h of def.hosts) {
      hostIndex++
      const ref = this.model.hosts.get(h.name)!
      const netns = await this.world.createHostNamespace(h.name)
      const { root, socketPath } = await this.world.createHostRoot(h.name)
      const runtime: HostRuntime = {
        ref,
        uuid: this.store.get('host', ref).uuid as string,
        name: h.name,
        netns,
        root,
        socketPath,
        nextDomid: 1,
      }
      await this.world.writeInventory(root, runtime.uuid)
      this.hostRuntimes.set(ref, runtime)
      for (const n of def.networks) {
        if (!n.pif) continue
        const bridge = this.store.get('network', this.model.networks.get(n.name)!).bridge as string
        await this.world.bridges(netns).create(bridge)
        const external = n.pif.connectTo ? this.externalRuntimes.find(x => x.name === n.pif!.connectTo) : undefined
        if (n.pif.connectTo && !external) throw new Error(`network ${n.name}: unknown external ${n.pif.connectTo}`)
        await this.world.createPif(netns, hostIndex, bridge, n.pif, external)
        if (n.pif.configureInDom0 && n.pif.ip_configuration_mode === 'Static') {
          const pif = this.store.where('PIF', p => p.host === ref && p.device === n.pif!.device)[0]!
          const record = this.store.get('PIF', pif)
          await this.world.configureAddress(netns, bridge, record.IP as string, record.netmask as string)
          if (record.gateway) await applyRoutes(netns, [{ to: 'default', via: record.gateway as string }])
        }
      }
    }

    for (const v of def.vms ?? []) {
      const ref = this.model.vms.get(v.name)!
      const netns = await this.world.createVmNamespace(v.name, v.guest ?? {})
      this.vmRuntimes.set(ref, {
        ref,
        uuid: this.store.get('VM', ref).uuid as string,
        name: v.name,
        netns,
        guest: v.guest ?? {},
      })
    }

    await this.listen(options.port ?? 0)

    const plugin = options.hostPlugin ?? existsSync(BUILT_HOST_PLUGIN)
    if (plugin !== false) {
      const source = plugin === true ? BUILT_HOST_PLUGIN : plugin
      if (!existsSync(source)) throw new Error(`host plugin ${source} does not exist (run npm run build)`)
      await this.installPlugin(HOST_PLUGIN_NAME, source)
    }

    for (const v of def.vms ?? []) {
      if (v.running) await this.startVm(v.name, v.affinity)
    }
    for (const s of def.srs ?? []) {
      if (!s.plugAtBoot) continue
      for (const pbd of this.store.get('SR', this.model.srs.get(s.name)!).PBDs as string[]) {
        await this.storage.plug(pbd).catch(() => undefined)
      }
    }
  }

  /**
   * This host's own xapi endpoint, at the URL a client uses for the host's address (its
   * `address` field): it answers only while the external `from` (where the client sits, e.g.
   * Xen Orchestra on the LAN) gets an answer to a ping of that address, through the real
   * namespaces. So a change that cuts the host off from there cuts this endpoint too. It
   * serves the pool's API, as the master does (the first host of a scenario).
   */
  async listenAsHost(hostName: string, from: string): Promise<string> {
    const host = this.host(hostName)
    const address = this.store.get('host', host.ref).address as string
    const external = this.externalRuntimes.find(x => x.name === from)
    if (!external) throw new Error(`no external ${from} in this scenario`)
    const port = await this.server!.listenTcp(0, '127.0.0.1', () => pingFrom(external.netns, address))
    return `http://127.0.0.1:${port}`
  }

  private async listen(port: number): Promise<void> {
    const server = new RpcServer({
      api: this.api,
      sessions: this.sessions,
      faults: this.faults,
      extraRoutes: { '/sim/timeline': () => this.timeline.entries() },
    })
    this.server = server
    this.port = await server.listenTcp(port)
    this.url = `http://127.0.0.1:${this.port}`
    for (const host of this.hostRuntimes.values()) await server.listenUnix(host.socketPath)
  }

  /** Stops listeners, kills every process it started, deletes namespaces and temp dirs. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.stopController.abort()
    this.faults.releaseHungPlugins()
    this.faults.releaseHeldCalls()
    await this.server?.close().catch(() => undefined)
    await this.world.destroy()
  }

  /**
   * A xapi restart: every connection cut, sessions and tasks forgotten, the listeners back
   * after `downtimeMs`. Objects and their refs survive, as xapi's database does.
   */
  async restart(options: { downtimeMs?: number } = {}): Promise<void> {
    await this.server?.close()
    this.sessions.clear()
    for (const task of this.store.refs('task')) this.store.destroy('task', task)
    this.events.wakeAll()
    await new Promise(r => setTimeout(r, options.downtimeMs ?? 0))
    await this.listen(this.port)
    this.timeline.record('server.restarted')
  }

  // ---- lookups --------------------------------------------------------------------------

  get poolRef(): string {
    return this.model.pool
  }

  poolRecord(): XapiRecord {
    return this.store.get('pool', this.model.pool)
  }

  get hosts(): SimHost[] {
    return [...this.hostRuntimes.values()].map(({ ref, uuid, name, netns, root, socketPath }) => ({
      ref,
      uuid,
      name,
      netns,
      root,
      socketPath,
    }))
  }

  get vms(): SimVm[] {
    return [...this.vmRuntimes.values()].map(({ ref, uuid, name, netns }) => ({ ref, uuid, name, netns }))
  }

  get externals(): SimExternal[] {
    return this.externalRuntimes.map(e => ({ ...e }))
  }

  /** A host by name label, uuid or ref. */
  host(id: string): SimHost {
    const found = this.hosts.find(h => h.name === id || h.uuid === id || h.ref === id)
    if (!found) throw new Error(`no host ${id}`)
    return found
  }

  /** A host's bridges (by name label, uuid or ref): Linux or Open vSwitch ones, as started. */
  bridges(host: string): Bridges {
    return this.world.bridges(this.host(host).netns)
  }

  /** A (non control-domain) VM by name label, uuid or ref. */
  vm(id: string): SimVm {
    const found = this.vms.find(v => v.name === id || v.uuid === id || v.ref === id)
    if (!found) throw new Error(`no VM ${id}`)
    return found
  }

  external(name: string): SimExternal {
    const found = this.externals.find(e => e.name === name)
    if (!found) throw new Error(`no external ${name}`)
    return found
  }

  /** The ref of an object of a class by name_label (or uuid, or ref). */
  ref(cls: XapiClass, id: string): string {
    if (this.store.find(cls, id)) return id
    const byUuid = this.store.byUuid(cls, id)
    if (byUuid) return byUuid
    const byName = this.store.where(cls, r => r.name_label === id)
    if (byName.length === 0) throw new Error(`no ${cls} ${id}`)
    return byName[0]!
  }

  /** A copy of a record. */
  record(cls: XapiClass, id: string): XapiRecord {
    return this.store.snapshot(cls, this.ref(cls, id))
  }

  /** All records of a class, by ref. */
  records(cls: XapiClass): Record<string, XapiRecord> {
    return Object.fromEntries(this.store.refs(cls).map(ref => [ref, this.store.snapshot(cls, ref)]))
  }

  /** The VIF refs of a VM, by device. */
  vifs(vm: string): Record<string, string> {
    const refs = this.store.get('VM', this.vm(vm).ref).VIFs as string[]
    return Object.fromEntries(refs.map(ref => [this.store.get('VIF', ref).device as string, ref]))
  }

  /** PBD refs of an SR (by name), by host name. */
  pbds(sr: string): Record<string, string> {
    const refs = this.store.get('SR', this.ref('SR', sr)).PBDs as string[]
    return Object.fromEntries(refs.map(ref => [this.host(this.store.get('PBD', ref).host as string).name, ref]))
  }

  describe(): SimDescription {
    const user = this.users[0]!
    return {
      url: this.url,
      user: user.user,
      password: user.password,
      bridges: this.world.bridgeKind,
      hosts: this.hosts.map(({ uuid, name, netns, root }) => ({
        uuid,
        name,
        netns,
        root,
        ovsdb: this.world.bridges(netns).db,
      })),
      vms: this.vms.map(({ uuid, name, netns }) => ({ uuid, name, netns })),
    }
  }

  // ---- driving the pool (same code paths as the API calls; events are emitted) ----------

  startVm(vm: string, host?: string): Promise<void> {
    return this.lifecycle.start(this.vm(vm).ref, host === undefined ? undefined : this.host(host).ref)
  }

  shutdownVm(vm: string): Promise<void> {
    return this.lifecycle.shutdown(this.vm(vm).ref)
  }

  migrateVm(vm: string, host: string): Promise<void> {
    return this.lifecycle.migrate(this.vm(vm).ref, this.host(host).ref)
  }

  plugVif(vif: string): Promise<void> {
    return this.lifecycle.plugVif(vif)
  }

  unplugVif(vif: string): Promise<void> {
    return this.lifecycle.unplugVif(vif)
  }

  /**
   * What xapi-autostart-vms does once xapi's init completes: with the pool's
   * other_config:auto_poweron=true, `xe vm-start` every halted auto_poweron VM, in no
   * particular order, errors swallowed. Returns what each start did.
   */
  async xapiAutostart(): Promise<Record<string, string>> {
    const outcome: Record<string, string> = {}
    if ((this.poolRecord().other_config as Record<string, string>).auto_poweron !== 'true') return outcome
    const vms = this.store.where(
      'VM',
      vm =>
        (vm.other_config as Record<string, string>).auto_poweron === 'true' &&
        vm.power_state === 'Halted' &&
        vm.is_a_template !== true &&
        vm.is_a_snapshot !== true,
    )
    for (const ref of vms) {
      const name = this.store.get('VM', ref).name_label as string
      outcome[name] = await this.lifecycle.start(ref).then(
        () => 'started',
        (error: XapiFailure) => error.code,
      )
    }
    return outcome
  }

  setHostEnabled(host: string, enabled: boolean): void {
    const ref = this.host(host).ref
    this.store.update('host', ref, { enabled })
    this.timeline.record(enabled ? 'host.enabled' : 'host.disabled', { host: this.host(host).uuid })
  }

  plugPbd(pbd: string): Promise<void> {
    return this.storage.plug(pbd)
  }

  unplugPbd(pbd: string): void {
    this.storage.unplug(pbd)
  }

  /** The dom0 interface name of a VIF while its VM runs (vif<domid>.<device>). */
  vifInterface(vifRef: string): string {
    const vif = this.store.get('VIF', vifRef)
    const domid = this.store.get('VM', vif.VM as string).domid as number
    if (domid < 0) throw new XapiFailure('VM_BAD_POWER_STATE', [vif.VM as string, 'running', 'halted'])
    return Lifecycle.vifDevice(domid, vif.device as string)
  }

  // ---- host files -----------------------------------------------------------------------

  /** Installs an executable as <root>/etc/xapi.d/plugins/<name> on some hosts (default all), as a symlink. */
  async installPlugin(name: string, source: string, hosts?: string[]): Promise<void> {
    for (const host of this.targetHosts(hosts)) {
      const path = join(host.root, 'etc/xapi.d/plugins', name)
      await rm(path, { force: true })
      await symlink(resolve(source), path)
    }
  }

  /** Writes a small executable plugin (a script with a shebang) on some hosts (default all). */
  async writePlugin(name: string, content: string, hosts?: string[], mode = 0o755): Promise<void> {
    for (const host of this.targetHosts(hosts))
      await writeExecutable(join(host.root, 'etc/xapi.d/plugins', name), content, mode)
  }

  /** Installs <root>/etc/xapi.d/vif-hotplug: a script's content, or a symlink to a path when `source` is given. */
  async installVifHotplug(hook: { content: string } | { source: string }, hosts?: string[]): Promise<void> {
    for (const host of this.targetHosts(hosts)) {
      const path = join(host.root, 'etc/xapi.d/vif-hotplug')
      await rm(path, { force: true })
      if ('source' in hook) await symlink(resolve(hook.source), path)
      else await writeExecutable(path, hook.content, 0o755)
    }
  }

  /** No vif-hotplug hook at all on these hosts (all by default). */
  async removeVifHotplug(hosts?: string[]): Promise<void> {
    for (const host of this.targetHosts(hosts)) await rm(join(host.root, 'etc/xapi.d/vif-hotplug'), { force: true })
  }

  private targetHosts(hosts?: string[]): SimHost[] {
    return hosts === undefined ? this.hosts : hosts.map(h => this.host(h))
  }

  // ---- faults ---------------------------------------------------------------------------

  /** Drops, delays or holds matching calls from now on; returns an id for removeFault. */
  addConnectionFault(fault: ConnectionFault): number {
    return this.faults.addConnectionFault(fault)
  }

  /** Makes matching call_plugin calls hang or fail; returns an id for removeFault. */
  addPluginFault(fault: PluginFault): number {
    return this.faults.addPluginFault(fault)
  }

  removeFault(id: number): void {
    this.faults.remove(id)
  }

  /** Cuts the connections of calls in progress that match (all by default), e.g. a waiting event.from. */
  dropConnections(match?: CallMatch): number {
    return (
      this.server?.dropConnections(call => (call === undefined ? match === undefined : callMatches(match, call))) ?? 0
    )
  }

  /** The next `count` event.from calls fail with EVENTS_LOST; blocked ones are woken to fail too. */
  forceEventsLost(count = 1): void {
    this.events.forceEventsLost(count)
  }

  releaseHungPlugins(): void {
    this.faults.releaseHungPlugins()
  }

  /** Calls waiting on a 'hold' connection fault. */
  get heldCalls(): number {
    return this.faults.heldCalls
  }

  /** Lets every call held by a 'hold' connection fault go on. */
  releaseHeldCalls(): void {
    this.faults.releaseHeldCalls()
  }
}

async function writeExecutable(path: string, content: string, mode: number): Promise<void> {
  if (await lstat(path).catch(() => undefined)) await rm(path, { force: true })
  await writeFile(path, content)
  await chmod(path, mode)
}

/** Builds and starts a simulator; on any failure, removes what it had created. */
export async function startSimulator(options: StartOptions): Promise<Simulator> {
  const scenario =
    typeof options.scenario === 'string'
      ? (
          SCENARIOS[options.scenario] ??
          (() => {
            throw new Error(`unknown scenario ${options.scenario} (known: ${Object.keys(SCENARIOS).join(', ')})`)
          })
        )()
      : options.scenario
  const sim = new Simulator(scenario)
  try {
    await sim.boot(options)
  } catch (error) {
    await sim.stop()
    throw error
  }
  return sim
}
