// An in-memory stand-in for the slice of xo-server and XAPI the XO plugin uses (a test
// double of xo-server, not of the plugin): records with the `xen-api` client's `$` fields,
// object events batched as xo-collection batches them, host plugins that keep what they
// were told per bridge, as the real one's state file does, and `Async.` calls as tasks
// whose result is stored in xapi's XML encoding.

import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'
import { encodeValue } from '../../shared/xmlrpc.ts'
import { ErrorCode } from '../../shared/errors.ts'
import { canonicalArgs } from '../../shared/plugin-args.ts'
import { type PluginOptions, VifIpBinderPlugin } from '../../xo-plugin/plugin.ts'
import type { LogData, Logger } from '../../xo-plugin/log.ts'
import type { RecordBatch, ServerEvent, XapiConnection, XapiRecord, XoApp } from '../../xo-plugin/xapi-types.ts'

type Fields = Record<string, unknown>

function unknownFunction(fn: string): Error {
  return Object.assign(new Error('UNKNOWN_XENAPI_PLUGIN_FUNCTION'), {
    code: 'UNKNOWN_XENAPI_PLUGIN_FUNCTION',
    params: [fn],
  })
}

export class FakeObjects extends EventEmitter {
  all: Record<string, XapiRecord> = {}
}

export interface FakeHostPlugin {
  installed: boolean
  protocol: number
  /** bridge → args of the last apply */
  bridges: Map<string, Record<string, string>>
  /** Throw this (once per entry) on the next calls. */
  failures: unknown[]
  /** plug-srs: SRs whose server does not answer (by UUID), and PBD.plug errors by SR UUID. */
  unreachable: Set<string>
  plugErrors: Map<string, string[]>
  /** plug-srs answers only once this resolves (a storage server that takes its time). */
  plugGate?: Promise<void>
  /** plug-srs throws this (an older host plugin without it, say). */
  plugSrsFailure?: unknown
  /** A host plugin older than refresh-index. */
  noRefreshIndex?: boolean
}

export interface Call {
  method: string
  host?: string
  fn?: string
  args?: Record<string, string>
}

export class FakeXapi implements XapiConnection {
  readonly objects = new FakeObjects()
  objectsFetched: Promise<unknown> = Promise.resolve()
  readonly calls: Call[] = []
  readonly plugins = new Map<string, FakeHostPlugin>()
  private refs = 0
  /** ref → $id, as xen-api keeps it: lookups by ref must not walk the pool. */
  private readonly idsByRef = new Map<string, string>()
  poolRef: string

  constructor(poolName = 'pool') {
    this.poolRef = this.add('pool', { name_label: poolName, master: 'OpaqueRef:NULL', other_config: {} }).$ref
  }

  /** While true, the pool record is not known yet, as before a connection completes. */
  connecting = false

  get pool() {
    return this.connecting ? undefined : (this.byRef(this.poolRef) as XapiConnection['pool'])
  }

  byRef(ref: string): (XapiRecord & Fields) | undefined {
    const id = this.idsByRef.get(ref)
    return (id === undefined ? undefined : this.objects.all[id]) as (XapiRecord & Fields) | undefined
  }

  getObjectByRef(ref: string, defaultValue: undefined): XapiRecord | undefined {
    return this.byRef(ref) ?? defaultValue
  }

  add(type: string, fields: Fields): XapiRecord & Fields {
    const uuid = (fields.uuid as string) ?? randomUUID()
    const record = Object.freeze({
      ...fields,
      uuid,
      $id: uuid,
      $ref: `OpaqueRef:${type}-${++this.refs}`,
      $type: type,
    }) as XapiRecord & Fields
    this.objects.all[uuid] = record
    this.idsByRef.set(record.$ref, uuid)
    this.objects.emit('add', { [uuid]: record })
    if (type === 'host') {
      this.plugins.set(record.$ref, {
        installed: true,
        protocol: 1,
        bridges: new Map(),
        failures: [],
        unreachable: new Set(),
        plugErrors: new Map(),
      })
    }
    return record
  }

  update(record: XapiRecord, fields: Fields): XapiRecord & Fields {
    const current = this.objects.all[record.$id]!
    const next = Object.freeze({
      ...current,
      ...fields,
      $id: current.$id,
      $ref: current.$ref,
      $type: current.$type,
    }) as XapiRecord & Fields
    // Object spread drops nothing here: the $ fields are own enumerable properties of fakes.
    this.objects.all[record.$id] = next
    this.objects.emit('update', { [record.$id]: next })
    return next
  }

  remove(record: XapiRecord): void {
    delete this.objects.all[record.$id]
    this.idsByRef.delete(record.$ref)
    this.objects.emit('remove', { [record.$id]: undefined } as RecordBatch)
  }

  pluginOf(host: XapiRecord): FakeHostPlugin {
    return this.plugins.get(host.$ref)!
  }

  /** An NFS SR with an unplugged PBD on each host. */
  addSr(name: string): { sr: XapiRecord & Fields; pbds: (XapiRecord & Fields)[] } {
    const sr = this.add('SR', { name_label: name, type: 'nfs', PBDs: [] })
    const hosts = Object.values(this.objects.all).filter(r => r.$type === 'host')
    const pbds = hosts.map(host =>
      this.add('PBD', {
        host: host.$ref,
        SR: sr.$ref,
        currently_attached: false,
        device_config: { server: 'nfs.lab' },
      }),
    )
    return { sr: this.update(sr, { PBDs: pbds.map(p => p.$ref) }), pbds }
  }

  /** Tasks of `Async.` calls, as xapi runs them: the call answers the task's ref at once. */
  private startTask(method: string, run: () => Promise<unknown>): string {
    const task = this.add('task', { name_label: method, status: 'pending', result: '', error_info: [] })
    void run().then(
      value => {
        // xapi stores the result as an XML-RPC <value> document.
        if (this.objects.all[task.$id]) this.update(task, { status: 'success', result: encodeValue(value as string) })
      },
      error => {
        const { code, params } = error as { code?: string; params?: string[] }
        if (this.objects.all[task.$id])
          this.update(task, { status: 'failure', error_info: [code ?? String(error), ...(params ?? [])] })
      },
    )
    return task.$ref
  }

  async call(method: string, ...args: unknown[]): Promise<unknown> {
    if (method === 'host.call_plugin' || method === 'Async.host.call_plugin') {
      const [hostRef, plugin, fn, pluginArgs] = args as [string, string, string, Record<string, string>]
      this.calls.push({ method, host: hostRef, fn, args: pluginArgs })
      if (method === 'Async.host.call_plugin')
        return this.startTask(method, () => this.callPlugin(hostRef, plugin, fn, pluginArgs))
      return this.callPlugin(hostRef, plugin, fn, pluginArgs)
    }
    // This stand-in tells its changes through the cache's events only: a poll of its own waits for ever.
    if (method === 'event.from') return new Promise(() => undefined)
    this.calls.push({ method, args: args as never })
    if (method === 'task.destroy') {
      const task = this.byRef(args[0] as string)
      if (task) this.remove(task)
      return ''
    }
    if (method === 'pool.remove_from_other_config') {
      const [ref, key] = args as [string, string]
      const pool = this.byRef(ref)!
      const other = { ...(pool.other_config as Record<string, string>) }
      delete other[key]
      this.update(pool, { other_config: other })
      return ''
    }
    if (method === 'pool.add_to_other_config') {
      const [ref, key, value] = args as [string, string, string]
      const pool = this.byRef(ref)!
      const other = pool.other_config as Record<string, string>
      if (key in other)
        throw Object.assign(new Error('MAP_DUPLICATE_KEY'), {
          code: 'MAP_DUPLICATE_KEY',
          params: ['pool', 'other_config', ref, key],
        })
      this.update(pool, { other_config: { ...other, [key]: value } })
      return ''
    }
    throw Object.assign(new Error('MESSAGE_METHOD_UNKNOWN'), { code: 'MESSAGE_METHOD_UNKNOWN', params: [method] })
  }

  private async callPlugin(
    hostRef: string,
    plugin: string,
    fn: string,
    pluginArgs: Record<string, string>,
  ): Promise<string> {
    const state = this.plugins.get(hostRef)
    if (!state) throw Object.assign(new Error('HANDLE_INVALID'), { code: 'HANDLE_INVALID', params: ['host', hostRef] })
    if (plugin !== 'vif-ip-binder' || !state.installed)
      throw Object.assign(new Error('XENAPI_MISSING_PLUGIN'), { code: 'XENAPI_MISSING_PLUGIN', params: [plugin] })
    const failure = state.failures.shift()
    if (failure) throw failure
    switch (fn) {
      case 'version':
        return JSON.stringify({ name: 'vif-ip-binder', version: '9.9.9', protocol: state.protocol })
      case 'apply': {
        // As the host: the window is not part of what it records.
        const { confirm: _window, ...recorded } = pluginArgs
        state.bridges.set(pluginArgs.bridge!, recorded)
        return JSON.stringify({
          bridge: pluginArgs.bridge,
          dryRun: false,
          changes: [{ action: 'add-address' }],
          unchanged: [],
          gatewayChecks: [],
        })
      }
      case 'apply-many': {
        const results = (JSON.parse(pluginArgs.requests!) as Record<string, string>[]).map(args => {
          // As the host's change guard: another binding on the bridge is left alone.
          const held = state.bridges.get(args.bridge!)
          if (pluginArgs['refuse-changes'] === 'true' && held && canonicalArgs(held) !== canonicalArgs(args)) {
            const errorDescription = [ErrorCode.NEEDS_CONFIRMATION, 'holds other arguments', args.bridge!, 'changed']
            return { ok: false, bridge: args.bridge, errorDescription: [...errorDescription, JSON.stringify(held)] }
          }
          state.bridges.set(args.bridge!, { ...args })
          const same = held && canonicalArgs(held) === canonicalArgs(args)
          return {
            ok: true,
            bridge: args.bridge,
            dryRun: false,
            changes: same ? [] : [{ action: 'add-address' }],
            unchanged: [],
            gatewayChecks: [],
          }
        })
        return JSON.stringify({ results, holds: Object.fromEntries(state.bridges) })
      }
      case 'release': {
        const released = state.bridges.delete(pluginArgs.bridge!)
        return JSON.stringify({ bridge: pluginArgs.bridge, dryRun: false, released, changes: [] })
      }
      case 'status': {
        const names = pluginArgs.bridge ? [pluginArgs.bridge] : [...state.bridges.keys()]
        const bridges: Record<string, unknown> = {}
        for (const name of names) {
          const desired = state.bridges.get(name)
          bridges[name] = {
            recorded: desired ? { bridge: name, desired } : null,
            kernel: {
              exists: true,
              up: true,
              addresses: desired ? desired.addresses!.split(',') : [],
              defaultRoutes: { ipv4: 'none', ipv6: 'none' },
            },
            inSync: true,
            drift: [],
          }
        }
        return JSON.stringify({ bridges })
      }
      case 'plug-srs':
        return JSON.stringify(await this.plugSrs(hostRef, state, pluginArgs))
      case 'refresh-index': {
        if (state.noRefreshIndex) throw unknownFunction(fn)
        const host = this.byRef(hostRef)!.uuid
        return JSON.stringify({ host, configured: true, refreshedAt: new Date().toISOString(), vms: [], bridges: [] })
      }
      default:
        throw unknownFunction(fn)
    }
  }

  /** The host plugin's plug-srs over this pool's SR and PBD records. */
  private async plugSrs(hostRef: string, state: FakeHostPlugin, args: Record<string, string>) {
    await state.plugGate
    if (state.plugSrsFailure) throw state.plugSrsFailure
    const probes = new Map(
      (args.probes ?? '')
        .split(',')
        .filter(Boolean)
        .map(p => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
    )
    const host = this.byRef(hostRef)!
    const srs = args.srs!.split(',').map(uuid => {
      const sr = this.objects.all[uuid] as XapiRecord & Fields
      const pbds = (sr.PBDs as string[]).map(ref => this.byRef(ref)!).filter(p => p.host === hostRef)
      const probe = {
        target: probes.get(uuid) ?? 'tcp:nfs.lab:2049',
        reachable: !state.unreachable.has(uuid),
        attempts: 3,
        elapsedMs: 500,
      }
      const outcome = { sr: uuid, name: sr.name_label, ok: true, probe: null as unknown, pbds: [] as unknown[] }
      for (const pbd of pbds) {
        if (pbd.currently_attached) {
          outcome.pbds.push({ pbd: pbd.uuid, outcome: 'already-attached', elapsedMs: 0 })
          continue
        }
        outcome.probe = state.unreachable.has(uuid) ? { ...probe, error: 'connection refused' } : probe
        const error = state.plugErrors.get(uuid)
        if (!probe.reachable || error) outcome.ok = false
        if (!probe.reachable) outcome.pbds.push({ pbd: pbd.uuid, outcome: 'unreachable', elapsedMs: 0 })
        else if (error) outcome.pbds.push({ pbd: pbd.uuid, outcome: 'failed', error, elapsedMs: 20 })
        else {
          this.update(pbd, { currently_attached: true })
          outcome.pbds.push({ pbd: pbd.uuid, outcome: 'plugged', elapsedMs: 20 })
        }
      }
      return outcome
    })
    return { host: host.uuid, srs }
  }

  /** Bridges applied, by apply or within apply-many. */
  appliedBridges(): number {
    return this.applyRequests().length
  }

  /** Every bridge sent to a host to apply, alone or within an apply-many, in order (a single apply's with its window). */
  applyRequests(): { host?: string; args: Record<string, string> }[] {
    return this.pluginCalls().flatMap(({ fn, host, args }) => {
      if (fn === 'apply') return [{ host, args: args! }]
      if (fn !== 'apply-many') return []
      return (JSON.parse(args!.requests!) as Record<string, string>[]).map(request => ({ host, args: request }))
    })
  }

  pluginCalls(fn?: string): Call[] {
    return this.calls.filter(
      c =>
        (c.method === 'host.call_plugin' || c.method === 'Async.host.call_plugin') && (fn === undefined || c.fn === fn),
    )
  }
}

export class FakeXo extends EventEmitter implements XoApp {
  readonly xapis: Record<string, FakeXapi> = {}
  /** The configuration xo-server's database holds for the plugin (undefined: fresh install). */
  saved: unknown

  async getOptionalPlugin(id: string): Promise<{ configuration?: unknown } | undefined> {
    return id === 'vif-ip-binder' && this.saved !== undefined ? { configuration: this.saved } : undefined
  }

  getAllXapis() {
    return this.xapis
  }

  connect(id: string, xapi: FakeXapi): void {
    this.xapis[id] = xapi
    this.emit('server:connected', { server: { id }, xapi } satisfies ServerEvent)
  }

  disconnect(id: string): void {
    const xapi = this.xapis[id]!
    delete this.xapis[id]
    this.emit('server:disconnected', { server: { id }, xapi } satisfies ServerEvent)
  }
}

export class RecordingLogger implements Logger {
  readonly entries: { level: string; message: string; data?: LogData }[] = []
  debug(message: string, data?: LogData) {
    this.entries.push({ level: 'debug', message, data })
  }
  info(message: string, data?: LogData) {
    this.entries.push({ level: 'info', message, data })
  }
  warn(message: string, data?: LogData) {
    this.entries.push({ level: 'warn', message, data })
  }
  error(message: string, data?: LogData) {
    this.entries.push({ level: 'error', message, data })
  }
  matching(level: string, pattern: RegExp) {
    return this.entries.filter(e => e.level === level && pattern.test(e.message))
  }
}

/** A pool with two hosts (each with a management PIF on `xenbr0`), a private network and a firewall VM. */
export function firewallPool(name = 'lab') {
  const xapi = new FakeXapi(name)
  const management = xapi.add('network', {
    name_label: 'Pool-wide network associated with eth0',
    bridge: 'xenbr0',
    PIFs: [],
  })
  const priv = xapi.add('network', { name_label: 'dom0-firewall', bridge: 'xapi1', PIFs: [] })
  const hosts = ['host1', 'host2'].map(hostName => {
    const pifRef = `OpaqueRef:pif-${hostName}`
    const host = xapi.add('host', { name_label: hostName, address: '', enabled: true, PIFs: [pifRef] })
    xapi.add('PIF', { uuid: randomUUID(), host: host.$ref, network: management.$ref, management: true, device: 'eth0' })
    // PIF refs are assigned by add(); point the host at the real one.
    const pif = Object.values(xapi.objects.all).find(
      r => r.$type === 'PIF' && (r as unknown as Fields).host === host.$ref,
    )!
    return xapi.update(host, { PIFs: [pif.$ref] })
  })
  const vm = xapi.add('VM', {
    name_label: 'fw',
    power_state: 'Halted',
    resident_on: 'OpaqueRef:NULL',
    VIFs: [],
    is_control_domain: false,
    is_a_template: false,
    is_a_snapshot: false,
  })
  const vif = xapi.add('VIF', { VM: vm.$ref, network: priv.$ref, device: '0', currently_attached: false })
  const vmWithVif = xapi.update(vm, { VIFs: [vif.$ref] })
  return { xapi, management, priv, hosts: hosts as [XapiRecord & Fields, XapiRecord & Fields], vm: vmWithVif, vif }
}

/** Starts (or moves) the VM on a host with its VIF attached, as xapi reports it. */
export function startOn(xapi: FakeXapi, vm: XapiRecord, vif: XapiRecord, host: XapiRecord): void {
  xapi.update(vm, { power_state: 'Running', resident_on: host.$ref })
  xapi.update(vif, { currently_attached: true })
}

export function halt(xapi: FakeXapi, vm: XapiRecord, vif: XapiRecord): void {
  xapi.update(vif, { currently_attached: false })
  xapi.update(vm, { power_state: 'Halted', resident_on: 'OpaqueRef:NULL' })
}

/**
 * The XO plugin on an in-memory xo-server with the firewall pool connected as "lab",
 * tuned for tests: short debounce and fetch timeout, fast retries.
 */
export function pluginOnFakePool(options: Partial<PluginOptions> = {}) {
  const xo = new FakeXo()
  const pool = firewallPool()
  xo.xapis.lab = pool.xapi
  const log = new RecordingLogger()
  const plugin = new VifIpBinderPlugin(xo, {
    log,
    debounceMs: 5,
    fetchTimeoutMs: 50,
    queue: { retries: 2, backoffMs: 1, maxBackoffMs: 2, timeoutMs: 2000 },
    ...options,
  })
  return { xo, log, plugin, pool, ...pool }
}
