// Confirm or revert (like `netplan try`): a change applied with a confirmation window is
// undone unless confirmed in time. The pending confirmation lives in the state file with
// everything the revert needs (each bridge's record before the change, every step the
// change was to run), so whoever finds it overdue can revert it: the detached process at
// the deadline, the next call if that process was killed, or boot after a reboot.

import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type {
  BridgeRecord,
  ConfirmationHandle,
  PendingConfirmation,
  RevertOutcome,
  Step,
} from '../../shared/results.ts'
import { canonicalArgs } from '../../shared/plugin-args.ts'
import { commandLine } from '../runtime/detached.ts'
import { type AlertContext, raiseAlert } from './alerts.ts'
import { undoSteps } from './execute.ts'
import { holdBack } from './held-back.ts'
import { holdPoolWide } from './pool-holds.ts'
import type { BridgeChange } from '../xapi/pool-holds.ts'
import type { State, StateStore } from './state.ts'

/** The window a change asks for, and who asks. */
export interface Window {
  seconds: number
  /** The asking call's token (see callToken); needed when `seconds` > 0. */
  token?: string
  /** The kernel's boot id (see currentBootId), recorded when the window is armed. */
  bootId?: string
}

let tokenOfThisCall: string | undefined

/**
 * Each plugin call is a process of its own: its token is made once, so every change one call
 * makes in a window (apply-many's bridges, configure's) is confirmed by that one token.
 */
export const callToken = (): string => (tokenOfThisCall ??= randomUUID())

/** The tokens still to confirm before the window is kept. */
export const unconfirmedTokens = (pending: PendingConfirmation): string[] => pending.tokens ?? [pending.token]

/** Every token the window was given, confirmed or not. */
export const windowTokens = (pending: PendingConfirmation): string[] => [
  ...new Set([pending.token, ...(pending.confirmed ?? []), ...unconfirmedTokens(pending)]),
]

/**
 * Adds a change to the pending confirmation, arming one when the window asks for seconds.
 * A change made while one is pending joins it whatever it asked: the revert goes back to
 * the state before the first unconfirmed change, and a window asked for now moves the
 * deadline later, never earlier. A caller that asks for a window adds its own token, which
 * the window then waits for too; one that does not ask gets no token: it cannot confirm
 * changes other callers made. Returns the handle, or undefined when nothing is pending.
 */
export function joinConfirmation(
  state: State,
  bridge: string,
  before: BridgeRecord | undefined,
  steps: Step[],
  window: Window,
  now = Date.now(),
): ConfirmationHandle | undefined {
  const { seconds } = window
  const pending = state.confirmation
  if (!pending && seconds === 0) return undefined
  const token = seconds > 0 ? (window.token ?? randomUUID()) : undefined
  const deadline = new Date(now + seconds * 1000).toISOString()
  const joined = pending ?? {
    token: token!,
    tokens: [],
    deadline,
    seconds,
    armedAt: new Date(now).toISOString(),
    ...(window.bootId ? { bootId: window.bootId } : {}),
    before: {},
    steps: [],
  }
  if (token && !unconfirmedTokens(joined).includes(token)) joined.tokens = [...unconfirmedTokens(joined), token]
  if (seconds > 0 && Date.parse(deadline) > Date.parse(joined.deadline)) joined.deadline = deadline
  if (seconds > 0) joined.seconds = seconds
  if (!Object.hasOwn(joined.before, bridge)) joined.before[bridge] = before ?? null
  joined.steps.push(...steps)
  state.confirmation = joined
  return { ...(token ? { token } : {}), deadline: joined.deadline, seconds }
}

/**
 * The window starts again now that the change is in place and verified: a slow gateway
 * check must not eat into the time the caller has to confirm. Never earlier than it was.
 */
export function restartWindow(state: State, handle: ConfirmationHandle, now = Date.now()): ConfirmationHandle {
  const pending = state.confirmation
  if (!pending || handle.seconds === 0) return handle
  const deadline = new Date(now + handle.seconds * 1000).toISOString()
  if (Date.parse(deadline) > Date.parse(pending.deadline)) pending.deadline = deadline
  return { ...handle, deadline: pending.deadline }
}

/**
 * Whether the window's revert process is alive: its pid runs the revert of this window, not
 * whatever process the kernel gave that pid since.
 */
export function workerRunning(pending: PendingConfirmation): boolean {
  const argv = pending.worker === undefined ? undefined : commandLine(pending.worker)
  return !!argv && argv.includes(REVERT_WORKER) && argv.includes(`token=${pending.token}`)
}

export const REVERT_WORKER = 'revert-worker'

/** The kernel's id of this boot (root: see Environment), or undefined where it cannot be read. */
export function currentBootId(root: string): string | undefined {
  try {
    return readFileSync(join(root, 'proc/sys/kernel/random/boot_id'), 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/** Armed before the host last restarted: the restart ended its window. */
export function armedBeforeBoot(pending: PendingConfirmation, root: string): boolean {
  const now = currentBootId(root)
  return !!pending.bootId && !!now && pending.bootId !== now
}

export function isOverdue(state: State, root: string, now = Date.now()): boolean {
  const pending = state.confirmation
  return !!pending && (Date.parse(pending.deadline) <= now || armedBeforeBoot(pending, root))
}

/** What a revert needs: where the state is, where to log, and xapi for its alert. */
export interface RevertContext extends AlertContext {
  store: StateStore
  /**
   * The vif-hotplug hook's own part, which udev waits for: a revert it runs leaves the
   * pool-wide hold (calls to every other host) to its worker, through poolHoldsPending.
   */
  deferPoolHolds?: boolean
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
  const reverted: BridgeChange[] = []
  for (const [bridge, record] of Object.entries(pending.before)) {
    const args = state.bridges[bridge]?.desired
    if (args && canonicalArgs(args) !== canonicalArgs(record?.desired ?? {})) reverted.push({ bridge, args })
    holdBack(state, bridge, args, record?.desired)
    if (record) state.bridges[bridge] = record
    else delete state.bridges[bridge]
  }
  const tokens = windowTokens(pending)
  const outcome: RevertOutcome = {
    token: pending.token,
    ...(tokens.length > 1 ? { tokens } : {}),
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
  if (ctx.deferPoolHolds ? reverted.length > 0 : !(await holdPoolWide(ctx, reverted))) {
    state.poolHoldsPending = [...(state.poolHoldsPending ?? []), ...reverted]
    store.save(state)
  }
  return outcome
}

/** With the lock held: reverts a pending confirmation whose deadline has passed. */
export async function settleOverdue(state: State, ctx: RevertContext): Promise<RevertOutcome | undefined> {
  const pending = state.confirmation
  if (!pending || !isOverdue(state, ctx.env.root)) return undefined
  if (armedBeforeBoot(pending, ctx.env.root)) {
    const reason = `the host restarted before the change was confirmed (deadline ${pending.deadline}); reverted by the first call after it`
    return revertPending(state, ctx, 'boot', reason)
  }
  const worker = workerRunning(pending)
    ? `before its revert process (pid ${pending.worker}) did`
    : `its revert process (pid ${pending.worker ?? 'none'}) was not running`
  const reason = `not confirmed by ${pending.deadline}; reverted by a later call: ${worker}`
  return revertPending(state, ctx, 'overdue', reason)
}
