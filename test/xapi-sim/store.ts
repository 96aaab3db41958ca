// The simulated xapi database: records by opaque ref, one generation counter for every
// change, and tombstones for deleted objects so event.from can report `del` to a client
// whose token predates the deletion. Everything that changes state goes through here, so
// events can never miss a change.

import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { XapiFailure } from './errors.ts'

export type XapiValue = string | number | boolean | Date | XapiValue[] | { [key: string]: XapiValue }
export type XapiRecord = { [field: string]: XapiValue }

/** Class names as xapi spells them in method names (`VM.get_record`); events use them lowercased. */
export const CLASSES = [
  'pool',
  'host',
  'host_metrics',
  'PIF',
  'PIF_metrics',
  'network',
  'VM',
  'VM_metrics',
  'VM_guest_metrics',
  'VIF',
  'SR',
  'PBD',
  'VDI',
  'VBD',
  'console',
  'task',
  'message',
] as const
export type XapiClass = (typeof CLASSES)[number]

const BY_LOWERCASE = new Map<string, XapiClass>(CLASSES.map(c => [c.toLowerCase(), c]))

export function classFromName(name: string): XapiClass | undefined {
  return BY_LOWERCASE.get(name.toLowerCase())
}

export const NULL_REF = 'OpaqueRef:NULL'

interface Row {
  cls: XapiClass
  ref: string
  record: XapiRecord
  created: number
  modified: number
}

interface Tombstone {
  cls: XapiClass
  ref: string
  created: number
  deleted: number
}

export interface Change {
  cls: XapiClass
  ref: string
  operation: 'add' | 'mod' | 'del'
  generation: number
}

export function newRef(): string {
  return `OpaqueRef:${randomUUID()}`
}

export class ObjectStore extends EventEmitter {
  private rows = new Map<string, Row>()
  private tombstones: Tombstone[] = []
  private gen = 0
  /** Tokens older than this cannot be answered faithfully any more: EVENTS_LOST. */
  private horizon = 0
  /** How many deletions to remember; xapi keeps a bounded list too. */
  maxTombstones = 10_000

  get generation(): number {
    return this.gen
  }

  get oldestAnswerableGeneration(): number {
    return this.horizon
  }

  create(cls: XapiClass, record: XapiRecord, ref = newRef()): string {
    if (this.rows.has(ref)) throw new Error(`duplicate ref ${ref}`)
    if (record.uuid === undefined && cls !== 'pool') record.uuid = randomUUID()
    if (cls === 'pool' && record.uuid === undefined) record.uuid = randomUUID()
    const generation = ++this.gen
    this.rows.set(ref, { cls, ref, record, created: generation, modified: generation })
    this.notify({ cls, ref, operation: 'add', generation })
    return ref
  }

  has(ref: string): boolean {
    return this.rows.has(ref)
  }

  classOf(ref: string): XapiClass | undefined {
    return this.rows.get(ref)?.cls
  }

  /** The live record (do not mutate: use update). Throws HANDLE_INVALID like xapi. */
  get(cls: XapiClass, ref: string): XapiRecord {
    const row = this.rows.get(ref)
    if (row === undefined || row.cls !== cls) throw new XapiFailure('HANDLE_INVALID', [cls, ref])
    return row.record
  }

  find(cls: XapiClass, ref: string): XapiRecord | undefined {
    const row = this.rows.get(ref)
    return row !== undefined && row.cls === cls ? row.record : undefined
  }

  /** A deep copy, safe to hand to a transport or a test. */
  snapshot(cls: XapiClass, ref: string): XapiRecord {
    return structuredClone(this.get(cls, ref))
  }

  refs(cls: XapiClass): string[] {
    const out: string[] = []
    for (const row of this.rows.values()) if (row.cls === cls) out.push(row.ref)
    return out
  }

  count(cls: XapiClass): number {
    let n = 0
    for (const row of this.rows.values()) if (row.cls === cls) n++
    return n
  }

  byUuid(cls: XapiClass, uuid: string): string | undefined {
    for (const row of this.rows.values()) if (row.cls === cls && row.record.uuid === uuid) return row.ref
    return undefined
  }

  /** Finds refs of a class whose record satisfies a predicate. */
  where(cls: XapiClass, predicate: (record: XapiRecord, ref: string) => boolean): string[] {
    const out: string[] = []
    for (const row of this.rows.values()) if (row.cls === cls && predicate(row.record, row.ref)) out.push(row.ref)
    return out
  }

  /** Applies a patch (or a mutator on a draft) and records one `mod`, even if nothing changed (like event.inject). */
  update(cls: XapiClass, ref: string, patch: XapiRecord | ((draft: XapiRecord) => void)): void {
    const row = this.rows.get(ref)
    if (row === undefined || row.cls !== cls) throw new XapiFailure('HANDLE_INVALID', [cls, ref])
    if (typeof patch === 'function') patch(row.record)
    else Object.assign(row.record, patch)
    row.modified = ++this.gen
    this.notify({ cls, ref, operation: 'mod', generation: row.modified })
  }

  destroy(cls: XapiClass, ref: string): void {
    const row = this.rows.get(ref)
    if (row === undefined || row.cls !== cls) throw new XapiFailure('HANDLE_INVALID', [cls, ref])
    this.rows.delete(ref)
    const generation = ++this.gen
    this.tombstones.push({ cls, ref, created: row.created, deleted: generation })
    if (this.tombstones.length > this.maxTombstones) {
      const dropped = this.tombstones.splice(0, this.tombstones.length - this.maxTombstones)
      this.horizon = Math.max(this.horizon, dropped[dropped.length - 1]!.deleted)
    }
    this.notify({ cls, ref, operation: 'del', generation })
  }

  /** Every change after `since`, one per object (coalesced), live objects with their current state. */
  changesSince(since: number): Change[] {
    const out: Change[] = []
    for (const t of this.tombstones) {
      // An object born and dead since the token never existed for this client.
      if (t.deleted > since && t.created <= since)
        out.push({ cls: t.cls, ref: t.ref, operation: 'del', generation: t.deleted })
    }
    for (const row of this.rows.values()) {
      if (row.modified <= since) continue
      out.push({ cls: row.cls, ref: row.ref, operation: row.created > since ? 'add' : 'mod', generation: row.modified })
    }
    return out
  }

  private notify(change: Change): void {
    this.emit('change', change)
  }
}
