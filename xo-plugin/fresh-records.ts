// The latest records of the bound VMs and their VIFs as PlugWatch sees them, ahead of the
// object cache, kept until the cache has caught up: the desired state is computed over
// the cache with these in front (PoolIndex), so a VIF plug counts as soon as xapi tells it.

import type { ObjectsEvent, RecordBatch, XapiConnection, XapiRecord } from './xapi-types.ts'

/** What the desired state reads of each class (desired.ts): a record is fresher only there. */
const READ_FIELDS: Readonly<Record<string, readonly string[]>> = {
  VM: ['power_state', 'resident_on', 'VIFs'],
  VIF: ['VM', 'network', 'currently_attached'],
}

const sameWhereRead = (a: XapiRecord, b: XapiRecord): boolean =>
  (READ_FIELDS[a.$type] ?? []).every(
    field =>
      JSON.stringify((a as unknown as Record<string, unknown>)[field]) ===
      JSON.stringify((b as unknown as Record<string, unknown>)[field]),
  )

export class FreshRecords {
  /** By ref, as PoolIndex looks records up. */
  private readonly records = new Map<string, XapiRecord>()
  private readonly listeners: [ObjectsEvent, (batch: RecordBatch) => void][]

  constructor(private readonly xapi: XapiConnection) {
    const caughtUp = (batch: RecordBatch) => {
      for (const record of Object.values(batch)) {
        const fresh = record && this.records.get(record.$ref)
        if (fresh && sameWhereRead(fresh, record)) this.records.delete(record.$ref)
      }
    }
    const removed = (batch: RecordBatch) => {
      for (const id of Object.keys(batch))
        for (const [ref, fresh] of this.records) if (fresh.$id === id) this.records.delete(ref)
    }
    this.listeners = [
      ['add', caughtUp],
      ['update', caughtUp],
      ['remove', removed],
    ]
    for (const [event, listener] of this.listeners) xapi.objects.on(event, listener)
  }

  get view(): ReadonlyMap<string, XapiRecord> {
    return this.records
  }

  /**
   * The cached record with an event's snapshot over it (a snapshot is the whole record as
   * xapi holds it, without the client's `$` fields). True when that changes what the
   * desired state reads.
   */
  note(cached: XapiRecord, snapshot: Readonly<Record<string, unknown>>): boolean {
    const before = this.records.get(cached.$ref) ?? cached
    // xen-api defines the `$` fields as not enumerable: a spread would lose them.
    const { $id, $ref, $type } = cached
    const fresh = { ...cached, ...snapshot, $id, $ref, $type } as XapiRecord
    if (sameWhereRead(fresh, cached)) this.records.delete(cached.$ref)
    else this.records.set(cached.$ref, fresh)
    return !sameWhereRead(fresh, before)
  }

  /** PlugWatch lost its stream: nothing here can be trusted to be ahead of the cache any more. */
  clear(): void {
    this.records.clear()
  }

  stop(): void {
    this.clear()
    for (const [event, listener] of this.listeners) this.xapi.objects.removeListener(event, listener)
  }
}
