// Confirm or revert (like `netplan try`): a change applied with a confirmation window is
// undone unless confirmed in time. The pending confirmation lives in the state file with
// everything the revert needs (each bridge's record before the change, every step the
// change was to run), so whoever finds it overdue can revert it: the detached process at
// the deadline, the next call if that process was killed, or boot after a reboot.

import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { type PluginArgs, canonicalArgs } from '../../shared/plugin-args.ts'
import type { BridgeRecord, ConfirmationHandle, RevertOutcome, Step } from '../../shared/results.ts'
import { type AlertContext, raiseAlert } from './alerts.ts'
import { undoSteps } from './execute.ts'
import type { State, StateStore } from './state.ts'

/**
 * Adds a change to the pending confirmation, arming one when `seconds` > 0. A change made
 * while one is pending joins it whatever it asked: the revert goes back to the state before
 * the first unconfirmed change, with the same token; a window asked for now moves the
 * deadline later, never earlier. Returns the handle, or undefined when nothing is pending.
 */
export function joinConfirmation(
  state: State,
  bridge: string,
  before: BridgeRecord | undefined,
  steps: Step[],
  seconds: number,
  now = Date.now(),
): ConfirmationHandle | undefined {
  const pending = state.confirmation
  if (!pending && seconds === 0) return undefined
  const deadline = new Date(now + seconds * 1000).toISOString()
  const joined = pending ?? {
    token: randomUUID(),
    deadline,
    seconds,
    armedAt: new Date(now).toISOString(),
    before: {},
    steps: [],
  }
  if (seconds > 0 && Date.parse(deadline) > Date.parse(joined.deadline)) joined.deadline = deadline
  if (seconds > 0) joined.seconds = seconds
  if (!Object.hasOwn(joined.before, bridge)) joined.before[bridge] = before ?? null
  joined.steps.push(...steps)
  state.confirmation = joined
  return { token: joined.token, deadline: joined.deadline, seconds }
}

function holdBack(state: State, bridge: string, reverted: PluginArgs | undefined, kept: PluginArgs | undefined): void {
  if (!reverted || (kept && canonicalArgs(kept) === canonicalArgs(reverted))) return
  state.heldBack = { ...state.heldBack, [bridge]: { reverted: canonicalArgs(reverted), instead: kept ?? null } }
}

/**
 * When these arguments for this bridge are a reverted change (see State.heldBack): what the
 * bridge had before it (null: nothing). Undefined when they are not.
 */
export function heldBackFor(state: State, bridge: string, args: PluginArgs): PluginArgs | null | undefined {
  const held = state.heldBack?.[bridge]
  return held?.reverted === canonicalArgs(args) ? held.instead : undefined
}

/** An explicit apply of the bridge: the admin's or Xen Orchestra's decision again. */
export function liftHoldBack(state: State, bridge: string): void {
  if (state.heldBack?.[bridge] === undefined) return
  delete state.heldBack[bridge]
}

export const isRunning = (pid: number | undefined) => pid !== undefined && existsSync(`/proc/${pid}`)

export function isOverdue(state: State, now = Date.now()): boolean {
  return !!state.confirmation && Date.parse(state.confirmation.deadline) <= now
}

/** What a revert needs: where the state is, where to log, and xapi for its alert. */
export interface RevertContext extends AlertContext {
  store: StateStore
}

/**
 * Undoes every unconfirmed step in reverse order (each tolerantly: what is already gone
 * stays gone), gives each bridge its record from before, and remembers what it did. The
 * caller holds the host lock.
 */
export async function revertPending(
  state: State,
  ctx: RevertContext,
  by: RevertOutcome['by'],
  reason: string,
): Promise<RevertOutcome> {
  const { store, log } = ctx
  const pending = state.confirmation!
  await undoSteps(pending.steps, log)
  for (const [bridge, record] of Object.entries(pending.before)) {
    holdBack(state, bridge, state.bridges[bridge]?.desired, record?.desired)
    if (record) state.bridges[bridge] = record
    else delete state.bridges[bridge]
  }
  const outcome: RevertOutcome = {
    token: pending.token,
    deadline: pending.deadline,
    revertedAt: new Date().toISOString(),
    by,
    bridges: Object.keys(pending.before),
    reason,
  }
  delete state.confirmation
  state.lastRevert = outcome
  store.save(state)
  log.log('warning', `unconfirmed change reverted: ${reason}`, { ...outcome })
  for (const bridge of outcome.bridges) {
    const body = `vif-ip-binder reverted a change of ${bridge} that was not confirmed (${by}): ${reason}. The host is back to its state before the change; check the binding before applying it again.`
    await raiseAlert(ctx, { cause: 'reverted', subject: bridge, body })
  }
  return outcome
}

/** With the lock held: reverts a pending confirmation whose deadline has passed. */
export async function settleOverdue(state: State, ctx: RevertContext): Promise<RevertOutcome | undefined> {
  const pending = state.confirmation
  if (!pending || !isOverdue(state)) return undefined
  const worker = isRunning(pending.worker)
    ? `before its revert process (pid ${pending.worker}) did`
    : `its revert process (pid ${pending.worker ?? 'none'}) was not running`
  const reason = `not confirmed by ${pending.deadline}; reverted by a later call: ${worker}`
  return revertPending(state, ctx, 'overdue', reason)
}
