// The methods every xapi class has: get_all, get_all_records, get_record, get_by_uuid,
// get_by_name_label, one getter per field, setters and map/set helpers for the
// user-writable fields. The field lists come from the default records, so a getter
// exists exactly for each field a record has.

import type { Api } from './api.ts'
import { XapiFailure } from './errors.ts'
import * as R from './records.ts'
import { CLASSES, type ObjectStore, type XapiClass, type XapiRecord } from './store.ts'

const TEMPLATES: Record<XapiClass, () => XapiRecord> = {
  pool: R.poolRecord,
  host: R.hostRecord,
  host_metrics: R.hostMetricsRecord,
  PIF: R.pifRecord,
  PIF_metrics: R.pifMetricsRecord,
  network: R.networkRecord,
  VM: R.vmRecord,
  VM_metrics: R.vmMetricsRecord,
  VM_guest_metrics: R.vmGuestMetricsRecord,
  VIF: R.vifRecord,
  SR: R.srRecord,
  PBD: R.pbdRecord,
  VDI: R.vdiRecord,
  VBD: R.vbdRecord,
  console: R.consoleRecord,
  task: R.taskRecord,
  message: R.messageRecord,
}

/** Fields clients may set directly (xapi: RW fields); everything else changes through messages. */
const WRITABLE: Partial<Record<XapiClass, string[]>> = {
  pool: ['name_label', 'name_description', 'other_config', 'tags', 'default_SR', 'gui_config'],
  host: ['name_label', 'name_description', 'other_config', 'tags', 'logging'],
  network: ['name_label', 'name_description', 'other_config', 'tags', 'MTU'],
  PIF: ['other_config'],
  VM: [
    'name_label',
    'name_description',
    'other_config',
    'tags',
    'xenstore_data',
    'affinity',
    'order',
    'start_delay',
    'shutdown_delay',
    'blocked_operations',
    'platform',
    'ha_always_run',
  ],
  VIF: ['other_config', 'qos_algorithm_type', 'qos_algorithm_params', 'locking_mode'],
  SR: ['name_label', 'name_description', 'other_config', 'tags', 'sm_config'],
  PBD: ['other_config'],
  host_metrics: ['other_config'],
  VM_metrics: ['other_config'],
  PIF_metrics: ['other_config'],
  task: ['other_config'],
}

/** A record of the class with every field at its empty or default value. */
export function templateRecord(cls: XapiClass): XapiRecord {
  return TEMPLATES[cls]()
}

export function fieldsOf(cls: XapiClass): string[] {
  return Object.keys(TEMPLATES[cls]())
}

export function registerGenericMethods(api: Api, store: ObjectStore): void {
  for (const cls of CLASSES) {
    const template = TEMPLATES[cls]()
    api.register(`${cls}.get_all`, 1, () => store.refs(cls))
    api.register(`${cls}.get_all_records`, 1, () => {
      const out: Record<string, XapiRecord> = {}
      for (const ref of store.refs(cls)) out[ref] = store.snapshot(cls, ref)
      return out
    })
    api.register(`${cls}.get_record`, 2, (_ctx, [ref]) => store.snapshot(cls, String(ref)))
    api.register(`${cls}.get_by_uuid`, 2, (_ctx, [uuid]) => {
      const ref = store.byUuid(cls, String(uuid))
      if (ref === undefined) throw new XapiFailure('UUID_INVALID', [cls, String(uuid)])
      return ref
    })
    if ('name_label' in template) {
      api.register(`${cls}.get_by_name_label`, 2, (_ctx, [label]) => store.where(cls, r => r.name_label === label))
    }
    for (const field of Object.keys(template)) {
      api.register(`${cls}.get_${field}`, 2, (_ctx, [ref]) => structuredClone(store.get(cls, String(ref))[field]))
    }
    for (const field of WRITABLE[cls] ?? []) {
      const sample = template[field]
      api.register(`${cls}.set_${field}`, 3, (_ctx, [ref, value]) => {
        store.get(cls, String(ref))
        store.update(cls, String(ref), { [field]: coerce(sample, value) })
      })
      if (sample !== null && typeof sample === 'object' && !Array.isArray(sample) && !(sample instanceof Date)) {
        api.register(`${cls}.add_to_${field}`, 4, (_ctx, [ref, key, value]) => {
          const map = store.get(cls, String(ref))[field] as Record<string, string>
          if (Object.hasOwn(map, String(key)))
            throw new XapiFailure('MAP_DUPLICATE_KEY', [cls, field, String(ref), String(key)])
          store.update(cls, String(ref), r => {
            ;(r[field] as Record<string, string>)[String(key)] = String(value)
          })
        })
        api.register(`${cls}.remove_from_${field}`, 3, (_ctx, [ref, key]) => {
          const map = store.get(cls, String(ref))[field] as Record<string, string>
          if (!Object.hasOwn(map, String(key))) return // xapi: removing a missing key is silent
          store.update(cls, String(ref), r => {
            delete (r[field] as Record<string, string>)[String(key)]
          })
        })
      }
      if (Array.isArray(sample)) {
        api.register(`${cls}.add_${field}`, 3, (_ctx, [ref, value]) => {
          const set = store.get(cls, String(ref))[field] as string[]
          if (!set.includes(String(value)))
            store.update(cls, String(ref), r => void (r[field] as string[]).push(String(value)))
        })
        api.register(`${cls}.remove_${field}`, 3, (_ctx, [ref, value]) => {
          store.get(cls, String(ref))
          store.update(cls, String(ref), r => {
            r[field] = (r[field] as string[]).filter(v => v !== String(value))
          })
        })
      }
    }
  }
}

/** XML-RPC clients send int64 as strings; keep the stored type of the field. */
function coerce(sample: unknown, value: unknown): XapiRecord[string] {
  if (typeof sample === 'number') {
    const n = Number(value)
    if (!Number.isFinite(n)) throw new XapiFailure('FIELD_TYPE_ERROR', [String(value)])
    return n
  }
  if (typeof sample === 'boolean') return value === true || value === 'true' || value === '1'
  if (sample !== null && typeof sample === 'object' && !Array.isArray(sample)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new XapiFailure('FIELD_TYPE_ERROR', [String(value)])
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]))
  }
  if (Array.isArray(sample)) {
    if (!Array.isArray(value)) throw new XapiFailure('FIELD_TYPE_ERROR', [String(value)])
    return value.map(String)
  }
  return String(value)
}
