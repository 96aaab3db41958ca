// An in-memory stand-in for the slice of xo-server and XAPI the XO plugin uses (a test
// double of xo-server, not of the plugin): records with the `xen-api` client's `$` fields,
// object events batched as xo-collection batches them, and host plugins that keep what
// they were told per bridge, as the real one's state file does.

import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'
import type { LogData, Logger } from '../../xo-plugin/log.ts'
import type { RecordBatch, ServerEvent, XapiConnection, XapiRecord, XoApp } from '../../xo-plugin/xapi-types.ts'

type Fields = Record<string, unknown>

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
    return Object.values(this.objects.all).find(r => r.$ref === ref) as (XapiRecord & Fields) | undefined
  }

  add(type: string, fields: Fields): XapiRecord & Fields {
    const uuid = (fields.uuid as string) ?? randomUUID()
    const record = Object.freeze({ ...fields, uuid, $id: uuid, $ref: `OpaqueRef:${type}-${++this.refs}`, $type: type }) as XapiRecord & Fields
    this.objects.all[uuid] = record
    this.objects.emit('add', { [uuid]: record })
    if (type === 'host') this.plugins.set(record.$ref, { installed: true, protocol: 1, bridges: new Map(), failures: [] })
    return record
  }

  update(record: XapiRecord, fields: Fields): XapiRecord & Fields {
    const current = this.objects.all[record.$id]!
    const next = Object.freeze({ ...current, ...fields, $id: current.$id, $ref: current.$ref, $type: current.$type }) as XapiRecord & Fields
    // Object spread drops nothing here: the $ fields are own enumerable properties of fakes.
    this.objects.all[record.$id] = next
    this.objects.emit('update', { [record.$id]: next })
    return next
  }

  remove(record: XapiRecord): void {
    delete this.objects.all[record.$id]
    this.objects.emit('remove', { [record.$id]: undefined } as RecordBatch)
  }

  pluginOf(host: XapiRecord): FakeHostPlugin {
    return this.plugins.get(host.$ref)!
  }

  async call(method: string, ...args: unknown[]): Promise<unknown> {
    if (method === 'host.call_plugin') {
      const [hostRef, plugin, fn, pluginArgs] = args as [string, string, string, Record<string, string>]
      this.calls.push({ method, host: hostRef, fn, args: pluginArgs })
      const state = this.plugins.get(hostRef)
      if (!state) throw Object.assign(new Error('HANDLE_INVALID'), { code: 'HANDLE_INVALID', params: ['host', hostRef] })
      if (plugin !== 'vif-ip-binder' || !state.installed) throw Object.assign(new Error('XENAPI_MISSING_PLUGIN'), { code: 'XENAPI_MISSING_PLUGIN', params: [plugin] })
      const failure = state.failures.shift()
      if (failure) throw failure
      switch (fn) {
        case 'version':
          return JSON.stringify({ name: 'vif-ip-binder', version: '9.9.9', protocol: state.protocol })
        case 'apply':
          state.bridges.set(pluginArgs.bridge!, { ...pluginArgs })
          return JSON.stringify({ bridge: pluginArgs.bridge, dryRun: false, changes: [{ action: 'add-address' }], unchanged: [], gatewayChecks: [] })
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
              kernel: { exists: true, up: true, addresses: desired ? desired.addresses!.split(',') : [], defaultRoutes: { ipv4: 'none', ipv6: 'none' } },
              inSync: true,
              drift: [],
            }
          }
          return JSON.stringify({ bridges })
        }
        default:
          throw Object.assign(new Error('UNKNOWN_XENAPI_PLUGIN_FUNCTION'), { code: 'UNKNOWN_XENAPI_PLUGIN_FUNCTION', params: [fn] })
      }
    }
    this.calls.push({ method, args: args as never })
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
      if (key in other) throw Object.assign(new Error('MAP_DUPLICATE_KEY'), { code: 'MAP_DUPLICATE_KEY', params: ['pool', 'other_config', ref, key] })
      this.update(pool, { other_config: { ...other, [key]: value } })
      return ''
    }
    throw Object.assign(new Error('MESSAGE_METHOD_UNKNOWN'), { code: 'MESSAGE_METHOD_UNKNOWN', params: [method] })
  }

  pluginCalls(fn?: string): Call[] {
    return this.calls.filter(c => c.method === 'host.call_plugin' && (fn === undefined || c.fn === fn))
  }
}

export class FakeXo extends EventEmitter implements XoApp {
  readonly xapis: Record<string, FakeXapi> = {}

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
  const management = xapi.add('network', { name_label: 'Pool-wide network associated with eth0', bridge: 'xenbr0', PIFs: [] })
  const priv = xapi.add('network', { name_label: 'dom0-firewall', bridge: 'xapi1', PIFs: [] })
  const hosts = ['host1', 'host2'].map(hostName => {
    const pifRef = `OpaqueRef:pif-${hostName}`
    const host = xapi.add('host', { name_label: hostName, address: '', enabled: true, PIFs: [pifRef] })
    xapi.add('PIF', { uuid: randomUUID(), host: host.$ref, network: management.$ref, management: true, device: 'eth0' })
    // PIF refs are assigned by add(); point the host at the real one.
    const pif = Object.values(xapi.objects.all).find(r => r.$type === 'PIF' && (r as unknown as Fields).host === host.$ref)!
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
