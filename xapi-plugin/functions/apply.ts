// apply: bind a bridge's addresses, routes, sysctls and default routes, make before break,
// verify the new gateways, and record what we own. The work is apply-batch's, for one bridge.

import type { ApplyRequest } from '../../shared/plugin-args.ts'
import type { ApplyResult } from '../../shared/results.ts'
import { runSteps } from '../engine/execute.ts'
import { BINDING_FAILURES, clearAlerts } from '../engine/alerts.ts'
import { withHostLock } from '../engine/lock.ts'
import type { KernelRead } from '../kernel/ip-batch.ts'
import { settleOverdue } from '../engine/confirmation.ts'
import type { State } from '../engine/state.ts'
import { type Job, applyBatch, planJob } from './apply-batch.ts'
import type { PoolHold } from '../../shared/pool-holds.ts'
import {
  effectiveRequest,
  heldBackResult,
  poolHold,
  switchesAtOnce,
  withoutLaterSwitches,
  writeIntents,
} from './apply-steps.ts'
import type { CallContext } from './context.ts'

export interface ApplyOptions {
  /**
   * Only what needs no answer from the gateway first: addresses, mirrors, routes, sysctls,
   * and the default routes switched at once (switchesAtOnce). Nothing removed, no gateway
   * asked; the record stays the plan's intent, so a full apply afterwards finds the rest
   * to do, and verifyDefaultRoutes asks the gateways the switch did not wait for. For the
   * vif-hotplug hook, which must not wait.
   */
  prepareOnly?: boolean
  /** A kernel read that is still true (apply-many's, while nothing has changed since). */
  kernel?: KernelRead
  /** Seconds before the change reverts by itself unless confirmed (0: none, unless one is pending). */
  confirmSeconds?: number
  /** From the pool's configuration (the hook, reconcile, boot), not asked for by a caller: see State.heldBack. */
  fromPool?: boolean
  /** From the pool's configuration: the pool-wide holds on these requests, by bridge (shared/pool-holds.ts). */
  poolHolds?: Record<string, PoolHold>
}

export async function apply(request: ApplyRequest, ctx: CallContext, options: ApplyOptions = {}): Promise<ApplyResult> {
  const result = await withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, () => applyHeld(request, ctx, options))
  // A bridge held back (nothing bound) keeps its alert: applyUntilGatewayAnswers raised it.
  if (!request.dryRun && !options.prepareOnly && !result.heldBack)
    await clearAlerts(ctx, BINDING_FAILURES, request.bridge)
  return result
}

/** apply, with the host lock already held. */
export async function applyHeld(
  asked: ApplyRequest,
  ctx: CallContext,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  if (options.prepareOnly) return prepareOnly(asked, ctx, options)
  const [outcome] = await applyBatch([asked], ctx, options)
  if (!outcome!.ok) throw outcome!.error
  return outcome!.result
}

/** The hook's part of an apply: see ApplyOptions.prepareOnly. */
async function prepareOnly(asked: ApplyRequest, ctx: CallContext, options: ApplyOptions): Promise<ApplyResult> {
  const state = ctx.store.load()
  const reverted = asked.dryRun ? undefined : await settleOverdue(state, { ...ctx, deferPoolHolds: true })
  const request = effectiveRequest(state, asked, ctx, options.fromPool, poolHold(options, asked))
  if (!request) return { ...heldBackResult(asked, poolHold(options, asked)), ...(reverted ? { reverted } : {}) }
  const job = await planJob(0, request, state, options.kernel)
  const result: ApplyResult = { ...job.result, ...(reverted ? { reverted } : {}) }
  if (request.dryRun) return result
  await writeIntents([{ ...job, result }], state, ctx, options.confirmSeconds ?? 0)
  result.changes = withoutLaterSwitches(job.plan.make, switchesAtOnce(job.plan.make, job.observed, job.previousRecord))
  try {
    await runSteps(result.changes, ctx.log)
  } catch (error) {
    restoreRecord(job, state)
    ctx.store.save(state)
    throw error
  }
  return result
}

function restoreRecord({ previousRecord, request }: Job, state: State): void {
  if (previousRecord) state.bridges[request.bridge] = previousRecord
  else delete state.bridges[request.bridge]
}
