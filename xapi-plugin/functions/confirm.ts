// confirm, and the revert it cancels. `apply confirm=N` arms a revert (engine/confirmation.ts)
// and starts a detached process that sleeps until the deadline and reverts unless the
// confirmation is gone by then. The process has its own session and, where systemd runs the
// host, its own scope: it outlives the call, its caller and xapi. If it dies anyway, the
// next call that finds the deadline passed reverts (settle), and boot reverts at once.

import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import type {
  BootResult,
  BridgeRecord,
  ConfirmResult,
  ConfirmationHandle,
  PendingConfirmation,
  RevertOutcome,
  Step,
} from '../../shared/results.ts'
import { clearAlerts } from '../engine/alerts.ts'
import { liftPoolWide } from '../engine/pool-holds.ts'
import {
  REVERT_WORKER,
  armedBeforeBoot,
  callToken,
  currentBootId,
  isOverdue,
  joinConfirmation,
  revertPending,
  settleOverdue,
  unconfirmedTokens,
  workerRunning,
} from '../engine/confirmation.ts'
import { withHostLock } from '../engine/lock.ts'
import type { State } from '../engine/state.ts'
import { startDetachedSurely } from '../runtime/detached.ts'
import type { CallContext } from './context.ts'

/**
 * Confirms the change of the call that `token` was given to. The window is kept (its revert
 * cancelled) once every call that joined it asking for a window has confirmed its own.
 */
export function confirm(token: string, ctx: CallContext): Promise<ConfirmResult> {
  return withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
    const state = ctx.store.load()
    const overdue = await settleOverdue(state, ctx)
    const pending = state.confirmation
    const waiting = pending ? unconfirmedTokens(pending) : []
    const reverted = overdue ?? state.lastRevert
    // A caller that timed out waiting for the answer asks again: the same answer, not an error.
    if (state.lastConfirmed?.token === token && !waiting.includes(token) && !revertedToken(reverted, token))
      return state.lastConfirmed
    if (!pending || !waiting.includes(token)) throw noSuchConfirmation(token, reverted)
    const others = waiting.filter(t => t !== token)
    const confirmed: ConfirmResult = {
      confirmed: true,
      token,
      bridges: Object.keys(pending.before),
      deadline: pending.deadline,
      confirmedAt: new Date().toISOString(),
      ...(others.length ? { othersUnconfirmed: others.length } : {}),
    }
    state.lastConfirmed = confirmed
    if (others.length) {
      pending.tokens = others
      pending.confirmed = [...(pending.confirmed ?? []), token]
      ctx.store.save(state)
      ctx.log.log('info', 'change confirmed; the window waits for the other changes in it', { token, others })
      return confirmed
    }
    await keepWindow(state, confirmed, ctx)
    return confirmed
  })
}

async function keepWindow(state: State, confirmed: ConfirmResult, ctx: CallContext): Promise<void> {
  const { bridges, token } = confirmed
  delete state.confirmation
  forgetRevertsOf(state, bridges)
  ctx.store.save(state)
  // A confirmed change of a bridge ends the condition its last revert reported.
  for (const bridge of bridges) await clearAlerts(ctx, ['reverted'], bridge)
  const kept = bridges.flatMap(bridge =>
    state.bridges[bridge] ? [{ bridge, args: state.bridges[bridge].desired }] : [],
  )
  await liftPoolWide(ctx, kept)
  ctx.log.log('info', 'change confirmed, revert cancelled', { token, bridges })
}

const revertedToken = (reverted: RevertOutcome | undefined, token: string) =>
  !!reverted && (reverted.token === token || !!reverted.tokens?.includes(token))

/** The last revert stays reported only for bridges no confirmed change has replaced since. */
function forgetRevertsOf(state: State, bridges: string[]): void {
  const left = state.lastRevert?.bridges.filter(bridge => !bridges.includes(bridge))
  if (!state.lastRevert || !left) return
  if (left.length) state.lastRevert = { ...state.lastRevert, bridges: left }
  else delete state.lastRevert
}

function noSuchConfirmation(token: string, reverted: RevertOutcome | undefined): BinderError {
  const why =
    reverted && revertedToken(reverted, token)
      ? `its change was not confirmed by ${reverted.deadline} and was reverted at ${reverted.revertedAt}`
      : 'no change waits for a confirmation with this token (never armed here, or replaced by a later confirmation)'
  return new BinderError(ErrorCode.NO_SUCH_CONFIRMATION, `confirm: token ${token}: ${why}`, [token])
}

/** Starts the process that reverts `token`'s window at its deadline; returns its pid. */
export function startRevertWorker(ctx: CallContext, token: string): Promise<number | undefined> {
  // A unit name of its own: one left by an earlier process must not stop this one.
  const unit = `vif-ip-binder-revert-${randomUUID().slice(0, 8)}`
  return startDetachedSurely(ctx.env.root, [REVERT_WORKER, `token=${token}`], unit, why =>
    ctx.log.log('warning', `the revert process runs without a scope of its own: ${why}`, { token }),
  )
}

/** A pending confirmation always has a revert process: one is started unless it has a live one; true if started. */
export async function ensureRevertWorker(state: State, ctx: CallContext): Promise<boolean> {
  const pending = state.confirmation
  if (!pending || workerRunning(pending)) return false
  pending.worker = await startRevertWorker(ctx, pending.token)
  return true
}

/** A change about to be made, as a window records it. */
export interface WindowedChange {
  bridge: string
  /** The bridge's record before the change (undefined: none). */
  before: BridgeRecord | undefined
  steps: Step[]
  /** The window asked for (0: none, but a pending one is joined). */
  seconds: number
}

/**
 * Joins or arms the window for a change and writes the state (with `record`'s edit) before
 * the change is made, so a call killed half-way leaves a window that undoes all of it. The
 * revert process reads the pending confirmation from the state file, and ends at once if it
 * finds none there: it starts only once that state is written. A call killed in between
 * leaves a confirmation with no process, which the next call or boot reverts.
 */
export async function armWindow(
  state: State,
  ctx: CallContext,
  change: WindowedChange,
  record: () => void,
): Promise<ConfirmationHandle | undefined> {
  const [confirmation] = await armWindows(state, ctx, [change], record)
  return confirmation
}

/** armWindow for the changes of several bridges (apply-many's), with one save for all. */
export async function armWindows(
  state: State,
  ctx: CallContext,
  changes: WindowedChange[],
  record: () => void,
): Promise<(ConfirmationHandle | undefined)[]> {
  const confirmations = changes.map(({ bridge, before, steps, seconds }) => {
    const window = { seconds, token: seconds > 0 ? callToken() : undefined, bootId: currentBootId(ctx.env.root) }
    return joinConfirmation(state, bridge, before, steps, window)
  })
  record()
  ctx.store.save(state)
  if (confirmations.some(Boolean) && (await ensureRevertWorker(state, ctx))) ctx.store.save(state)
  return confirmations
}

const stillPending = (state: State, token: string): PendingConfirmation | undefined =>
  state.confirmation?.token === token ? state.confirmation : undefined

/**
 * The detached process: sleeps until the deadline (read again on waking: a later apply may
 * have moved it), then reverts under the host lock unless the change was confirmed.
 */
export async function revertWorker(token: string, ctx: CallContext): Promise<RevertOutcome | undefined> {
  for (;;) {
    const state = ctx.store.load()
    const pending = stillPending(state, token)
    if (!pending) return undefined
    if (!isOverdue(state, ctx.env.root)) {
      await sleep(Math.min(Math.max(Date.parse(pending.deadline) - Date.now(), 10), 60_000))
      continue
    }
    const outcome = await revertWhenLocked(token, ctx)
    if (outcome !== 'moved') return outcome
  }
}

/**
 * Another call may hold the lock for minutes (an apply's gateway check): the revert waits
 * for it as long as it takes. Giving up would leave an admin it cut off locked out. 'moved':
 * that call moved the deadline later meanwhile.
 */
async function revertWhenLocked(token: string, ctx: CallContext): Promise<RevertOutcome | undefined | 'moved'> {
  for (;;) {
    try {
      return await withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
        const state = ctx.store.load()
        const pending = stillPending(state, token)
        if (!pending) return undefined
        if (!isOverdue(state, ctx.env.root)) return 'moved'
        if (armedBeforeBoot(pending, ctx.env.root)) return settleOverdue(state, ctx)
        const reason = `not confirmed by ${pending.deadline}: reverted at the deadline`
        return revertPending(state, ctx, 'deadline', reason)
      })
    } catch (error) {
      if (!(error instanceof BinderError && error.code === ErrorCode.BUSY)) throw error
      ctx.log.log('warning', 'the revert waits for the host lock', { token })
    }
  }
}

/**
 * For calls that do not otherwise take the lock (status): an overdue revert runs first, and
 * a window whose revert process is gone gets a new one.
 */
export async function settle(ctx: CallContext): Promise<RevertOutcome | undefined> {
  const found = ctx.store.load()
  if (!found.confirmation || (!isOverdue(found, ctx.env.root) && workerRunning(found.confirmation))) return undefined
  return withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
    const state = ctx.store.load()
    const reverted = await settleOverdue(state, ctx)
    if (!reverted && (await ensureRevertWorker(state, ctx))) ctx.store.save(state)
    return reverted
  })
}

/**
 * Boot: the reboot undid the kernel's part of an unconfirmed change, not the records, and
 * the deadline may still be ahead with no process left to honour it. Revert now, before
 * anything binds again. If another call holds the lock longer than a call waits for it,
 * boot goes on without: the change is from before this boot (see armedBeforeBoot), so the
 * first call to take the lock reverts it before anything else, and a revert process started
 * here waits for the lock to do it if no call comes.
 */
export async function revertAtBoot(ctx: CallContext): Promise<Pick<BootResult, 'reverted' | 'revertDeferred'>> {
  try {
    const reverted = await withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
      const state = ctx.store.load()
      const pending = state.confirmation
      if (!pending) return undefined
      const reason = `the host restarted before the change was confirmed (deadline ${pending.deadline})`
      return revertPending(state, ctx, 'boot', reason)
    })
    return reverted ? { reverted } : {}
  } catch (error) {
    if (!(error instanceof BinderError && error.code === ErrorCode.BUSY)) throw error
    const pending = ctx.store.load().confirmation
    if (!pending) return {}
    const worker = await startRevertWorker(ctx, pending.token)
    const revertDeferred = `the host lock stayed busy for ${ctx.env.lockWaitSeconds} s: the change left unconfirmed before the restart is reverted by the next call that takes the lock, or else by its revert process (pid ${worker ?? 'none'}); boot goes on`
    ctx.log.log('warning', `boot: ${revertDeferred}`, { token: pending.token })
    return { revertDeferred }
  }
}
