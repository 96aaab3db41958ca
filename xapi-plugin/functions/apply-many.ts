// apply-many: several bridges in one call, as Xen Orchestra sends a host all its bindings
// after a reconnection. One lock, one kernel read, one batch of changes per stage for all
// the bridges (apply-batch.ts), each bridge converged exactly as its own apply would. One
// bridge's failure does not stop the others: each request has its own result or error, in
// order.
//
//   vif-ip-binder apply-many requests='[{"bridge":"xapi1","addresses":"192.0.2.2/24"},…]'
//
// With refuse-changes=true (what Xen Orchestra sends after a reconnection, not knowing what
// the host holds) a bridge whose binding it would change is left alone and answered
// NEEDS_CONFIRMATION (engine/change-guard.ts); the answer also tells every bridge the host
// holds, so that the caller needs no `status` first.

import { BinderError, invalidArgument } from '../../shared/errors.ts'
import {
  type ApplyRequest,
  type PluginArgs,
  parseApplyArgs,
  parseBoolean,
  parseConfirmSeconds,
  rejectUnknownKeys,
} from '../../shared/plugin-args.ts'
import { type ApplyManyResult, MAX_APPLY_MANY as MAX_REQUESTS } from '../../shared/results.ts'
import { withHostLock } from '../engine/lock.ts'
import { applyBatchTo } from './apply-batch.ts'
import { BINDING_FAILURES, clearAlerts } from '../engine/alerts.ts'
import type { State } from '../engine/state.ts'
import type { CallContext } from './context.ts'
import { resolveXapiArgs } from './resolve-args.ts'

function requestsOf(args: PluginArgs): PluginArgs[] {
  rejectUnknownKeys('apply-many', args)
  let list: unknown
  try {
    list = JSON.parse(args.requests ?? '')
  } catch {
    throw invalidArgument(
      `apply-many: requests ${JSON.stringify(args.requests ?? '')} is not JSON`,
      args.requests ?? '',
    )
  }
  const isArgs = (item: unknown) =>
    typeof item === 'object' &&
    item !== null &&
    !Array.isArray(item) &&
    Object.values(item).every(v => typeof v === 'string')
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_REQUESTS || !list.every(isArgs)) {
    const text = String(args.requests)
    throw invalidArgument(
      `apply-many: requests must be a JSON array of 1 to ${MAX_REQUESTS} apply argument objects`,
      text,
    )
  }
  const armed = (list as PluginArgs[]).find(item => item.confirm !== undefined)
  if (armed)
    throw invalidArgument('apply-many: confirm is one window for the whole call: give it beside requests', 'confirm')
  return list as PluginArgs[]
}

/** Every request validated (and network= resolved) before anything is touched. */
export async function parseApplyMany(args: PluginArgs, ctx: CallContext): Promise<ApplyRequest[]> {
  const requests: ApplyRequest[] = []
  for (const item of requestsOf(args)) requests.push(parseApplyArgs(await resolveXapiArgs('apply', item, ctx)))
  const seen = new Set<string>()
  for (const { bridge } of requests) {
    if (seen.has(bridge)) throw invalidArgument(`apply-many: bridge ${bridge} is named twice`, bridge)
    seen.add(bridge)
  }
  return requests
}

export interface ApplyManyOptions {
  /** One confirmation window for every bridge of the call (see apply). */
  confirmSeconds?: number
  /** Leave alone, and answer NEEDS_CONFIRMATION for, each bridge whose binding this would change. */
  refuseChanges?: boolean
}

/** `confirm=N` and `refuse-changes=true`, which exclude each other: a window is how a change is confirmed. */
export function parseApplyManyOptions(args: PluginArgs): ApplyManyOptions {
  const confirmSeconds = parseConfirmSeconds(args.confirm)
  const refuseChanges = parseBoolean(args['refuse-changes'], 'refuse-changes', false)
  if (refuseChanges && confirmSeconds > 0)
    throw invalidArgument(
      'apply-many: refuse-changes=true and confirm are exclusive: a change applied with a window needs no refusal',
      'refuse-changes',
    )
  return { confirmSeconds, refuseChanges }
}

export async function applyMany(
  requests: ApplyRequest[],
  ctx: CallContext,
  options: ApplyManyOptions = {},
): Promise<ApplyManyResult> {
  const { outcomes, holds } = await withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
    const state = ctx.store.load()
    const outcomes = await applyBatchTo(state, requests, ctx, options)
    return { outcomes, holds: holdsOf(state) }
  })
  const results: ApplyManyResult['results'] = outcomes.map((outcome, i) => {
    if (outcome.ok) return { ok: true, ...outcome.result }
    const { error } = outcome
    const errorDescription =
      error instanceof BinderError ? error.errorDescription : [String((error as Error)?.message ?? error)]
    return { ok: false, bridge: requests[i]!.bridge, errorDescription }
  })
  for (const result of results) if (result.ok && !result.dryRun) await clearAlerts(ctx, BINDING_FAILURES, result.bridge)
  return { results, holds }
}

/** Every bridge's recorded arguments once the call is done: the caller learns what else the host holds. */
const holdsOf = (state: State): ApplyManyResult['holds'] =>
  Object.fromEntries(Object.values(state.bridges).map(record => [record.bridge, record.desired]))
