// release: give back exactly what apply recorded for a bridge, which may already be gone
// (xapi destroys a PIF-less bridge with its last VIF, and the kernel drops its addresses
// and the default route through it).

import type { ReleaseRequest } from '../../shared/plugin-args.ts'
import type { ReleaseResult } from '../../shared/results.ts'
import { viewBridge } from '../engine/bridge-view.ts'
import { runSteps } from '../engine/execute.ts'
import { withHostLock } from '../engine/lock.ts'
import { clearAlerts } from '../engine/alerts.ts'
import { restartWindow, revertPending, settleOverdue } from '../engine/confirmation.ts'
import { settleHoldOnRelease } from '../engine/held-back.ts'
import { armWindow } from './confirm.ts'
import { planRelease } from '../engine/plan.ts'
import type { CallContext } from './context.ts'

export interface ReleaseOptions {
  /**
   * Seconds: the release joins (or arms) the confirmation window, and the revert gives the
   * bridge back unless confirmed (configure confirm=N). 0: a pending change of the bridge is
   * reverted first instead, so the release gives back what was there before it.
   */
  confirmSeconds?: number
}

export async function release(
  request: ReleaseRequest,
  ctx: CallContext,
  options: ReleaseOptions = {},
): Promise<ReleaseResult> {
  const { log, store, env } = ctx
  const { bridge, dryRun } = request
  const seconds = options.confirmSeconds ?? 0
  let revertedNow = false
  const result = await withHostLock(env.lockPath, env.lockWaitSeconds, async () => {
    const state = store.load()
    if (!dryRun) revertedNow = !!(await settleOverdue(state, ctx))?.bridges.includes(bridge)
    // Releasing a bridge whose change is not confirmed yet: that change is reverted first,
    // so the release gives back what was there before it, and the reverted arguments are
    // held back from the next plug (it must not come back without a window).
    if (!dryRun && !seconds && state.confirmation && Object.hasOwn(state.confirmation.before, bridge)) {
      await revertPending(state, ctx, 'release', `${bridge} was released before the change was confirmed`)
      revertedNow = true
    }
    if (!dryRun) settleHoldOnRelease(state, bridge)
    const record = state.bridges[bridge]
    if (!record) return { bridge, dryRun, released: false, changes: [] }
    const { observed } = await viewBridge(state, bridge, record.mirrors[0]?.dev)
    const steps = planRelease(record, observed)
    if (dryRun) return { bridge, dryRun: true, released: false, changes: steps }
    const change = { bridge, before: record, steps, seconds }
    const confirmation = seconds ? await armWindow(state, ctx, change, () => undefined) : undefined
    await runSteps(steps, log)
    delete state.bridges[bridge]
    const window = confirmation && restartWindow(state, confirmation)
    store.save(state)
    log.log('info', 'released', { bridge, changes: steps.length })
    return { bridge, dryRun: false, released: true, changes: steps, ...(window ? { confirmation: window } : {}) }
  })
  // The host no longer holds the bridge (its VM left): an earlier revert's alert is no longer
  // a condition here. One this very call raised stays: it is the news of that revert.
  if (!dryRun && !seconds && !revertedNow) await clearAlerts(ctx, ['reverted'], bridge)
  return result
}
