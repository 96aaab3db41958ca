// confirm, and the revert it cancels. `apply confirm=N` arms a revert (engine/confirmation.ts)
// and starts a detached process that sleeps until the deadline and reverts unless the
// confirmation is gone by then. The process has its own session and, where systemd runs the
// host, its own scope: it outlives the call, its caller and xapi. If it dies anyway, the
// next call that finds the deadline passed reverts (settle), and boot reverts at once.

import { setTimeout as sleep } from 'node:timers/promises'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import type { ConfirmResult, PendingConfirmation, RevertOutcome } from '../../shared/results.ts'
import { clearAlerts } from '../engine/alerts.ts'
import { isOverdue, isRunning, revertPending, settleOverdue } from '../engine/confirmation.ts'
import { withHostLock } from '../engine/lock.ts'
import type { State } from '../engine/state.ts'
import { startDetached } from '../runtime/detached.ts'
import type { Environment } from '../runtime/environment.ts'
import type { CallContext } from './context.ts'

/** Cancels the pending revert whose token this is. */
export function confirm(token: string, ctx: CallContext): Promise<ConfirmResult> {
  return withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
    const state = ctx.store.load()
    const overdue = await settleOverdue(state, ctx)
    const pending = state.confirmation
    // A caller that timed out waiting for the answer asks again: the same answer, not an error.
    if (state.lastConfirmed?.token === token && pending?.token !== token) return state.lastConfirmed
    if (!pending || pending.token !== token) throw noSuchConfirmation(token, overdue ?? state.lastRevert)
    delete state.confirmation
    const bridges = Object.keys(pending.before)
    const confirmed: ConfirmResult = {
      confirmed: true,
      token,
      bridges,
      deadline: pending.deadline,
      confirmedAt: new Date().toISOString(),
    }
    state.lastConfirmed = confirmed
    forgetRevertsOf(state, bridges)
    ctx.store.save(state)
    // A confirmed change of a bridge ends the condition its last revert reported.
    for (const bridge of bridges) await clearAlerts(ctx, ['reverted'], bridge)
    ctx.log.log('info', 'change confirmed, revert cancelled', { token, bridges })
    return confirmed
  })
}

/** The last revert stays reported only for bridges no confirmed change has replaced since. */
function forgetRevertsOf(state: State, bridges: string[]): void {
  const left = state.lastRevert?.bridges.filter(bridge => !bridges.includes(bridge))
  if (!state.lastRevert || !left) return
  if (left.length) state.lastRevert = { ...state.lastRevert, bridges: left }
  else delete state.lastRevert
}

function noSuchConfirmation(token: string, reverted: RevertOutcome | undefined): BinderError {
  const why =
    reverted?.token === token
      ? `its change was not confirmed by ${reverted.deadline} and was reverted at ${reverted.revertedAt}`
      : 'no change waits for a confirmation with this token (never armed here, or replaced by a later confirmation)'
  return new BinderError(ErrorCode.NO_SUCH_CONFIRMATION, `confirm: token ${token}: ${why}`, [token])
}

/** Starts the process that reverts `token`'s change at its deadline; returns its pid. */
export function startRevertWorker(env: Environment, token: string): number | undefined {
  return startDetached(env.root, ['revert-worker', `token=${token}`], 'vif-ip-binder-revert')
}

/** A pending confirmation always has a revert process: one is started unless it has a live one; true if started. */
export function ensureRevertWorker(state: State, env: Environment): boolean {
  const pending = state.confirmation
  if (!pending || isRunning(pending.worker)) return false
  pending.worker = startRevertWorker(env, pending.token)
  return true
}

const stillPending = (state: State, token: string): PendingConfirmation | undefined =>
  state.confirmation?.token === token ? state.confirmation : undefined

/**
 * The detached process: sleeps until the deadline (read again on waking: a later apply may
 * have moved it), then reverts under the host lock unless the change was confirmed.
 */
export async function revertWorker(token: string, ctx: CallContext): Promise<RevertOutcome | undefined> {
  for (;;) {
    const pending = stillPending(ctx.store.load(), token)
    if (!pending) return undefined
    const wait = Date.parse(pending.deadline) - Date.now()
    if (wait <= 0) break
    await sleep(Math.min(wait, 60_000))
  }
  // Another call may hold the lock for minutes (an apply's gateway check): the revert waits
  // for it as long as it takes. Giving up would leave an admin it cut off locked out.
  for (;;) {
    try {
      return await withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
        const state = ctx.store.load()
        const pending = stillPending(state, token)
        if (!pending || !isOverdue(state)) return undefined
        const reason = `not confirmed by ${pending.deadline}: reverted at the deadline`
        return revertPending(state, ctx, 'deadline', reason)
      })
    } catch (error) {
      if (!(error instanceof BinderError && error.code === ErrorCode.BUSY)) throw error
      ctx.log.log('warning', 'the revert waits for the host lock', { token })
    }
  }
}

/** For calls that do not otherwise take the lock (status): an overdue revert runs first. */
export async function settle(ctx: CallContext): Promise<RevertOutcome | undefined> {
  if (!isOverdue(ctx.store.load())) return undefined
  return withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
    const state = ctx.store.load()
    return settleOverdue(state, ctx)
  })
}

/**
 * Boot: the reboot undid the kernel's part of an unconfirmed change, not the records, and
 * the deadline may still be ahead with no process left to honour it. Revert now, before
 * anything binds again.
 */
export function revertAtBoot(ctx: CallContext): Promise<RevertOutcome | undefined> {
  return withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
    const state = ctx.store.load()
    const pending = state.confirmation
    if (!pending) return undefined
    const reason = `the host restarted before the change was confirmed (deadline ${pending.deadline})`
    return revertPending(state, ctx, 'boot', reason)
  })
}
