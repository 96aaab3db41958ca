// Failures made visible where admins look: xapi messages (message.create), which
// `xe message-list`, Xen Orchestra's REST API and our Test report list (xo-web 5 shows a
// VM's on its Logs tab, not a host's), on a host nobody can reach. One open message per cause and subject (bridge, SR, host, VM): a repeat within the
// hour is only counted, a repeat after it replaces the message, and the condition's end
// destroys it. What is open is remembered in the state directory (alerts.json), written
// under a lock of its own, so that the boot unit and hook workers failing together still
// leave one message. Sending never fails the call: without xapi the alert is logged only.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ALERTS, ALERT_REPEAT_SECONDS, type AlertCause } from '../../shared/alerts.ts'
import { BinderError } from '../../shared/errors.ts'
import type { OpenAlertSummary } from '../../shared/results.ts'
import { NULL_REF } from '../../shared/xapi-ids.ts'
import { writeFileAtomically } from '../runtime/atomic-file.ts'
import type { Environment } from '../runtime/environment.ts'
import type { Logger } from '../runtime/log.ts'
import { type LocalXapi, inventoryHostUuid, withLocalXapi } from '../xapi/local-xapi.ts'
import { withHostLock } from './lock.ts'

export interface AlertContext {
  env: Environment
  log: Logger
  session?: string
}

export interface Occurrence {
  cause: AlertCause
  /** The bridge, SR UUID, host UUID or VM UUID it is about (ALERTS[cause].subject). */
  subject: string
  body: string
  /** The object the message is attached to: this host unless given (a VM for auto-start). */
  objUuid?: string
}

export interface OpenAlert {
  name: string
  subject: string
  /** The xapi message. */
  ref: string
  raisedAt: string
  /** Occurrences after the one sent at raisedAt that were counted, not sent. */
  repeats: number
}

export interface AlertState {
  version: 1
  alerts: Record<string, OpenAlert>
}

export type Decision = { action: 'create' } | { action: 'count' } | { action: 'supersede'; old: string }
export type RaiseOutcome = 'created' | 'counted' | 'superseded' | 'failed'

export const ALERTS_FILE = 'alerts.json'

/** What a bridge that binds now, gateway included, is no longer failing at. */
export const BINDING_FAILURES: AlertCause[] = ['bind-failed', 'gateway-unreachable', 'held-back']

/** A repeat within the window is counted; after it, the message is replaced. */
export function decide(open: OpenAlert | undefined, nowMs: number, windowSeconds = ALERT_REPEAT_SECONDS): Decision {
  if (!open) return { action: 'create' }
  const age = nowMs - Date.parse(open.raisedAt)
  return age >= 0 && age < windowSeconds * 1000 ? { action: 'count' } : { action: 'supersede', old: open.ref }
}

export function alertKey(cause: AlertCause, subject: string): string {
  return `${ALERTS[cause].name} ${subject}`
}

export function readAlertState(stateDir: string): AlertState {
  try {
    const parsed = JSON.parse(readFileSync(join(stateDir, ALERTS_FILE), 'utf8')) as Partial<AlertState>
    if (parsed.version === 1 && typeof parsed.alerts === 'object' && parsed.alerts) return parsed as AlertState
  } catch {
    // missing or unreadable: nothing is known to be open
  }
  return { version: 1, alerts: {} }
}

/** What `status` reports: the open alerts, if any, oldest first. */
export function openAlerts(stateDir: string): { alerts?: OpenAlertSummary[] } {
  const open = Object.values(readAlertState(stateDir).alerts).sort((a, b) => a.raisedAt.localeCompare(b.raisedAt))
  if (!open.length) return {}
  return { alerts: open.map(({ name, subject, raisedAt, repeats }) => ({ name, subject, since: raisedAt, repeats })) }
}

/** Reads, changes and writes the alert state under its own lock (never the host's: callers may hold that). */
async function withAlertState<T>(ctx: AlertContext, body: (state: AlertState) => Promise<T>): Promise<T> {
  return withHostLock(ctx.env.alertsLockPath, ctx.env.lockWaitSeconds, async () => {
    const state = readAlertState(ctx.env.stateDir)
    const result = await body(state)
    writeFileAtomically(join(ctx.env.stateDir, ALERTS_FILE), JSON.stringify(state, null, 2) + '\n')
    return result
  })
}

function withXapi<T>(ctx: AlertContext, xapi: LocalXapi | undefined, body: (xapi: LocalXapi) => Promise<T>) {
  return xapi ? body(xapi) : withLocalXapi(ctx.env.root, ctx.session, body)
}

/** A message gone already (an admin deleted it) is as good as destroyed; xapi out of reach is not. */
async function destroyMessage(xapi: LocalXapi, ref: string): Promise<void> {
  await xapi.call('message.destroy', ref).catch(error => {
    if (error instanceof BinderError) throw error
  })
}

function repeatedBody(body: string, open: OpenAlert | undefined): string {
  if (!open?.repeats) return body
  return `${body} (it happened ${open.repeats + 2} times since ${open.raisedAt})`
}

/** Creates, counts or replaces the message for this occurrence. Never throws. */
export async function raiseAlert(ctx: AlertContext, occurrence: Occurrence, xapi?: LocalXapi): Promise<RaiseOutcome> {
  const kind = ALERTS[occurrence.cause]
  const fields = { alert: kind.name, subject: occurrence.subject }
  try {
    const outcome = await withAlertState(ctx, async state => {
      const key = alertKey(occurrence.cause, occurrence.subject)
      const open = state.alerts[key]
      const decision = decide(open, Date.now())
      if (decision.action === 'count') {
        open!.repeats++
        return 'counted'
      }
      const objUuid = occurrence.objUuid ?? inventoryHostUuid(ctx.env.root)
      const body = repeatedBody(occurrence.body, open)
      const ref = await withXapi(ctx, xapi, async x => {
        if (decision.action === 'supersede') await destroyMessage(x, decision.old)
        return x.call<string>('message.create', kind.name, kind.priority, kind.cls, objUuid, body)
      })
      if (!ref || ref === NULL_REF) throw new Error('xapi did not store the message')
      state.alerts[key] = {
        name: kind.name,
        subject: occurrence.subject,
        ref,
        raisedAt: new Date().toISOString(),
        repeats: 0,
      }
      return decision.action === 'supersede' ? 'superseded' : 'created'
    })
    ctx.log.log('info', `alert ${outcome}: ${occurrence.body}`, fields)
    return outcome
  } catch (error) {
    ctx.log.log('warning', `alert not sent to xapi: ${occurrence.body}`, { ...fields, error: (error as Error).message })
    return 'failed'
  }
}

/**
 * The condition ended: destroys the open messages of these causes for this subject. Costs
 * one file read when none is open. Never throws; what xapi did not destroy stays recorded
 * for the next time.
 */
export async function clearAlerts(
  ctx: AlertContext,
  causes: AlertCause[],
  subject: string,
  xapi?: LocalXapi,
): Promise<number> {
  const keys = causes.map(cause => alertKey(cause, subject))
  const recorded = readAlertState(ctx.env.stateDir).alerts
  if (!keys.some(key => recorded[key])) return 0
  try {
    return await withAlertState(ctx, async state => {
      const open = keys.filter(key => state.alerts[key])
      if (open.length === 0) return 0
      await withXapi(ctx, xapi, async x => {
        for (const key of open) {
          await destroyMessage(x, state.alerts[key]!.ref)
          delete state.alerts[key]
        }
      })
      ctx.log.log('info', 'alert cleared: the condition ended', { alerts: open })
      return open.length
    })
  } catch (error) {
    ctx.log.log('warning', 'alert not cleared in xapi', { alerts: keys, error: (error as Error).message })
    return 0
  }
}
