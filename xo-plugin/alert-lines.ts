// The host plugin's alerts (xapi messages named VIF_IP_BINDER_*, on a host or on a VM of
// the pool), read as Xen Orchestra reads messages: from the connection's cached records,
// which xen-api fills with message.get_all_records and keeps current from events. One
// that asks for action (xapi's priorities 1 to 3) makes the binding's report a problem.

import { ALERTS, ALERT_PREFIX } from '../shared/alerts.ts'
import type { HostRecord, PoolIndex, VmRecord, XapiRecord } from './xapi-types.ts'

export interface MessageRecord extends XapiRecord {
  readonly name: string
  readonly priority: number | string
  readonly cls: string
  readonly obj_uuid: string
  readonly timestamp: string
  readonly body: string
}

/** Priorities 1 (critical) to 3 (warning) ask for action; 4 and 5 only tell. */
const ACTION_PRIORITY = 3

export interface AlertLines {
  ok: boolean
  lines: string[]
  /** Each line with the message it tells. */
  entries: { message: MessageRecord; line: string }[]
}

export function alertLines(index: PoolIndex): AlertLines {
  const where = (message: MessageRecord): string | undefined => {
    const object = index.uuid<HostRecord | VmRecord>(message.obj_uuid, message.cls === 'VM' ? 'VM' : 'host')
    if (!object) return undefined
    return `${message.cls === 'VM' ? 'VM' : 'host'} ${JSON.stringify(object.name_label)}`
  }
  const alerts = index
    .all<MessageRecord>('message')
    .filter(m => m.name.startsWith(ALERT_PREFIX))
    .map(m => ({ message: m, on: where(m) }))
    .filter((a): a is { message: MessageRecord; on: string } => a.on !== undefined)
    .sort((a, b) => String(a.message.timestamp).localeCompare(String(b.message.timestamp)))
  let ok = true
  const entries = alerts.map(({ message, on }) => {
    const action = Number(message.priority) <= ACTION_PRIORITY
    if (action) ok = false
    const line = `${action ? 'PROBLEM: ' : ''}alert on ${on}: ${message.name} (${String(message.timestamp)}): ${message.body}`
    return { message, line }
  })
  return { ok, lines: entries.map(e => e.line), entries }
}

/**
 * The host's alert of a revert of this bridge, which the report already tells with Xen
 * Orchestra's side of it (one line per revert, not two saying the same).
 */
export function isRevertAlertOf(message: MessageRecord, hostUuid: string, bridge: string): boolean {
  return message.name === ALERTS.reverted.name && message.obj_uuid === hostUuid && message.body.includes(` ${bridge} `)
}
