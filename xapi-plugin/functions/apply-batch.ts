// Applying several bridges at the cost of one: one state load, one kernel read, one batch
// of changes per stage (make, switch, break), the gateways of every bridge asked at once,
// one state save. Each bridge still gets exactly what its own apply would do: planned from
// the kernel as the bridges before it left it, made before broken, its default route
// switched only to a gateway that answered, and undone alone when one of its steps fails.
//
// Bridges whose plans touch what another reads or changes (two default routes of one
// family, say) cannot share a read: the first such bridge starts the next round, planned
// from a fresh read once the round before it has run (engine/plan/footprint.ts).

import type { ApplyRequest } from '../../shared/plugin-args.ts'
import type { ApplyResult, BridgeRecord, RevertOutcome } from '../../shared/results.ts'
import { viewBridge } from '../engine/bridge-view.ts'
import { refusedChange } from '../engine/change-guard.ts'
import { settleOverdue } from '../engine/confirmation.ts'
import type { Observed } from '../engine/observe.ts'
import { type Plan, planApply } from '../engine/plan.ts'
import { type Footprint, mustWait, readsOf, writesOf } from '../engine/plan/footprint.ts'
import { type State, emptyRecord } from '../engine/state.ts'
import { type KernelRead, readKernel } from '../kernel/ip-batch.ts'
import { runRound } from './apply-round.ts'
import { effectiveRequest, heldBackResult, poolHold } from './apply-steps.ts'
import type { PoolHold } from '../../shared/pool-holds.ts'
import type { CallContext } from './context.ts'

export interface BatchOptions {
  /** A kernel read that is still true, for the first round. */
  kernel?: KernelRead
  /** Seconds before the change reverts by itself unless confirmed (0: none, unless one is pending). */
  confirmSeconds?: number
  /** From the pool's configuration (the hook, reconcile, boot), not asked for by a caller: see State.heldBack. */
  fromPool?: boolean
  /** From the pool's configuration: the pool-wide holds on these requests, by bridge (shared/pool-holds.ts). */
  poolHolds?: Record<string, PoolHold>
  /** apply-many refuse-changes=true: a bridge whose binding this would change is left alone (engine/change-guard.ts). */
  refuseChanges?: boolean
}

export type Outcome = { ok: true; result: ApplyResult } | { ok: false; error: unknown }

/** One bridge's apply while its round runs. */
export interface Job {
  /** Its place in the call's requests (and outcomes). */
  index: number
  request: ApplyRequest
  previousRecord: BridgeRecord | undefined
  record: BridgeRecord
  observed: Observed
  plan: Plan
  result: ApplyResult
}

/** The plan of one bridge, from `kernel` and the state as the bridges before it left it. */
export async function planJob(index: number, request: ApplyRequest, state: State, kernel?: KernelRead): Promise<Job> {
  const { bridge } = request
  const view = await viewBridge(state, bridge, request.management?.bridge, request, kernel)
  const { record: previousRecord, observed } = view
  const record = previousRecord ?? emptyRecord(bridge)
  const others = Object.values(state.bridges).filter(r => r.bridge !== bridge)
  const plan = planApply(request, observed, record, new Date().toISOString(), others)
  const result: ApplyResult = {
    bridge,
    dryRun: request.dryRun,
    changes: [...plan.make, ...plan.break],
    unchanged: plan.unchanged,
    gatewayChecks: [],
  }
  return { index, request, previousRecord, record, observed, plan, result }
}

const devsOf = (requests: ApplyRequest[]) => [
  ...new Set(requests.flatMap(r => (r.management ? [r.bridge, r.management.bridge] : [r.bridge]))),
]

/**
 * The bridges, from the first of `pending`, that one kernel read can plan: it stops before
 * the first whose plan reads what one of them changes, or changes what one of them reads
 * or changes. A plan that fails is that bridge's outcome; it changes nothing.
 */
async function openRound(
  pending: { index: number; request: ApplyRequest }[],
  state: State,
  kernel: KernelRead,
  outcomes: Outcome[],
): Promise<{ round: Job[]; next: number }> {
  const round: Job[] = []
  const before: Footprint = { reads: [], writes: [] }
  for (const [n, { index, request }] of pending.entries()) {
    const reads = readsOf(request, state.bridges[request.bridge])
    if (mustWait({ reads }, before)) return { round, next: n }
    let job: Job
    try {
      job = await planJob(index, request, state, kernel)
    } catch (error) {
      outcomes[index] = { ok: false, error }
      continue
    }
    const { plan, record } = job
    const writes = request.dryRun ? [] : writesOf([...plan.make, ...plan.break], record, plan.final)
    if (mustWait({ writes }, before)) return { round, next: n }
    round.push(job)
    before.reads.push(...reads)
    before.writes.push(...writes)
  }
  return { round, next: pending.length }
}

/** Each request's outcome, in order. The caller holds the host lock. */
export const applyBatch = (requests: ApplyRequest[], ctx: CallContext, options: BatchOptions = {}) =>
  applyBatchTo(ctx.store.load(), requests, ctx, options)

/** applyBatch on the state the caller loaded, which it then finds as the call left it (and saved). */
export async function applyBatchTo(
  state: State,
  requests: ApplyRequest[],
  ctx: CallContext,
  options: BatchOptions = {},
): Promise<Outcome[]> {
  const reverted = requests.some(r => !r.dryRun) ? await settleOverdue(state, ctx) : undefined
  const outcomes: Outcome[] = []
  let pending: { index: number; request: ApplyRequest }[] = []
  requests.forEach((asked, index) => {
    const refused = options.refuseChanges && !asked.dryRun ? refusedChange(state, asked) : undefined
    const request = refused
      ? undefined
      : effectiveRequest(state, asked, ctx, options.fromPool, poolHold(options, asked))
    if (refused) outcomes[index] = { ok: false, error: refused }
    else if (request) pending.push({ index, request })
    else outcomes[index] = { ok: true, result: heldBackResult(asked, poolHold(options, asked)) }
  })
  let kernel = options.kernel
  while (pending.length) {
    kernel ??= await readKernel(devsOf(pending.map(p => p.request)))
    const { round, next } = await openRound(pending, state, kernel, outcomes)
    await runRound(round, state, ctx, options.confirmSeconds ?? 0, outcomes)
    // A bridge that cannot share this read starts the next round, which reads again.
    pending = pending.slice(Math.max(next, 1))
    kernel = undefined
  }
  return withReverted(outcomes, reverted)
}

/** The earlier unconfirmed change this call reverted first, told with the first result. */
function withReverted(outcomes: Outcome[], reverted: RevertOutcome | undefined): Outcome[] {
  const first = outcomes[0]
  if (reverted && first?.ok) first.result.reverted = reverted
  return outcomes
}
