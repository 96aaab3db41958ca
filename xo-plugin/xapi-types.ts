// The slice of xo-server and of XAPI connections this plugin uses, typed. Inside xo-server
// the connections are `@xen-orchestra/xapi` objects, whose interface extends the `xen-api`
// client's; the plugin touches only what both have: the cached raw records, their
// events, and `call`. Keeping the slice this small keeps the test facade small.

import { NULL_REF } from '../shared/xapi-ids.ts'
import type { XoTasks } from './test-task.ts'

/** Every raw XAPI record in `xapi.objects` carries these (set by the `xen-api` client). */
export interface XapiRecord {
  readonly $id: string
  readonly $ref: string
  readonly $type: string
  readonly uuid: string
}

export interface VmRecord extends XapiRecord {
  readonly name_label: string
  readonly power_state: string
  readonly resident_on: string
  readonly VIFs: readonly string[]
  readonly is_control_domain: boolean
  readonly is_a_template: boolean
  readonly is_a_snapshot: boolean
}

export interface VifRecord extends XapiRecord {
  readonly VM: string
  readonly network: string
  readonly device: string
  readonly currently_attached: boolean
  readonly other_config?: Readonly<Record<string, string>>
  readonly locking_mode?: string
  readonly ipv4_allowed?: readonly string[]
  readonly ipv6_allowed?: readonly string[]
}

export interface NetworkRecord extends XapiRecord {
  readonly name_label: string
  readonly bridge: string
  readonly PIFs: readonly string[]
  readonly default_locking_mode?: string
}

export interface HostRecord extends XapiRecord {
  readonly name_label: string
  readonly address: string
  readonly enabled: boolean
  readonly PIFs: readonly string[]
}

export interface PifRecord extends XapiRecord {
  readonly host: string
  readonly network: string
  readonly management: boolean
  readonly device: string
}

export interface PoolRecord extends XapiRecord {
  readonly name_label: string
  readonly master: string
  readonly other_config: Readonly<Record<string, string>>
}

/** `{ [$id]: record }`; on `remove` the values are undefined (only the ids are usable). */
export type RecordBatch = Record<string, XapiRecord | undefined>
export type ObjectsEvent = 'add' | 'update' | 'remove'

export interface XapiObjects {
  readonly all: Readonly<Record<string, XapiRecord>>
  on(event: ObjectsEvent, listener: (batch: RecordBatch) => void): unknown
  removeListener(event: ObjectsEvent, listener: (batch: RecordBatch) => void): unknown
}

export interface XapiConnection {
  readonly objects: XapiObjects
  /** Resolves once the initial fetch of every record is done (again after a reconnection). */
  readonly objectsFetched: Promise<unknown>
  /** The pool record; undefined until connected. */
  readonly pool: PoolRecord | undefined
  /**
   * xen-api's own ref index, kept up to date from the event stream: O(1), where walking
   * `objects.all` costs the whole pool on every event. With a default it does not throw.
   */
  getObjectByRef(ref: string, defaultValue: undefined): XapiRecord | undefined
  call(method: string, ...args: unknown[]): Promise<unknown>
}

export interface ServerEvent {
  server?: { id?: string }
  xapi: XapiConnection
}

export type ServerEventName = 'server:connected' | 'server:disconnected'

/** The xo-server application object, as far as this plugin uses it. */
export interface XoApp {
  /** Connected pools, by XO server id. */
  getAllXapis(): Readonly<Record<string, XapiConnection>>
  on(event: ServerEventName, listener: (event: ServerEvent) => void): unknown
  removeListener(event: ServerEventName, listener: (event: ServerEvent) => void): unknown
  /** xo-server's task manager (absent on old releases). */
  readonly tasks?: XoTasks
  /** A registered plugin as `plugin.get` lists it, with its saved configuration. */
  getOptionalPlugin?(id: string): Promise<{ configuration?: unknown } | undefined>
}

/**
 * Lookups over one pool's cached records. Built on every event batch, so it does no work
 * up front: refs and UUIDs go through the connection's own indexes, and only `all` (used
 * when configuring and connecting, not per event) walks the records, once.
 */
export class PoolIndex {
  private byType: Map<string, XapiRecord[]> | undefined

  /** `fresher`: records ahead of the cache, by ref (FreshRecords), seen in place of the cached ones. */
  constructor(
    readonly xapi: XapiConnection,
    private readonly fresher: ReadonlyMap<string, XapiRecord> = new Map(),
  ) {}

  ref<T extends XapiRecord>(ref: string | undefined, type: string): T | undefined {
    if (!ref || ref === NULL_REF) return undefined
    const record = this.fresher.get(ref) ?? this.xapi.getObjectByRef(ref, undefined)
    return record?.$type === type ? (record as T) : undefined
  }

  uuid<T extends XapiRecord>(uuid: string, type: string): T | undefined {
    const cached = this.xapi.objects.all[uuid]
    const record = cached && (this.fresher.get(cached.$ref) ?? cached)
    return record?.$type === type ? (record as T) : undefined
  }

  all<T extends XapiRecord>(type: string): T[] {
    if (!this.byType) {
      this.byType = new Map()
      for (const record of Object.values(this.xapi.objects.all)) {
        let list = this.byType.get(record.$type)
        if (!list) this.byType.set(record.$type, (list = []))
        list.push(this.fresher.get(record.$ref) ?? record)
      }
    }
    return (this.byType.get(type) ?? []) as T[]
  }

  /** The bridge of the host's management PIF's network, if the host has one. */
  managementBridge(host: HostRecord): string | undefined {
    for (const pifRef of host.PIFs) {
      const pif = this.ref<PifRecord>(pifRef, 'PIF')
      if (pif?.management) return this.ref<NetworkRecord>(pif.network, 'network')?.bridge || undefined
    }
    return undefined
  }
}
