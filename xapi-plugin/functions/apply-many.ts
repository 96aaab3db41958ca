// apply-many: several bridges in one call, as Xen Orchestra sends a host all its bindings
// after a reconnection. One lock, one kernel read, one batch of changes per stage for all
// the bridges (apply-batch.ts), each bridge converged exactly as its own apply would. One
// bridge's failure does not stop the others: each request has its own result or error, in
// order.
//
//   vif-ip-binder apply-many requests='[{"bridge":"xapi1","addresses":"192.0.2.2/24"},…]'

import { BinderError, invalidArgument } from '../../shared/errors.ts'
import { type ApplyRequest, type PluginArgs, parseApplyArgs, rejectUnknownKeys } from '../../shared/plugin-args.ts'
import { type ApplyManyResult, MAX_APPLY_MANY as MAX_REQUESTS } from '../../shared/results.ts'
import { withHostLock } from '../engine/lock.ts'
import { applyBatch } from './apply-batch.ts'
import { BINDING_FAILURES, clearAlerts } from '../engine/alerts.ts'
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

/** `confirmSeconds`: one confirmation window for every bridge of the call (see apply). */
export async function applyMany(
  requests: ApplyRequest[],
  ctx: CallContext,
  confirmSeconds = 0,
): Promise<ApplyManyResult> {
  const outcomes = await withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, () =>
    applyBatch(requests, ctx, { confirmSeconds }),
  )
  const results: ApplyManyResult['results'] = outcomes.map((outcome, i) => {
    if (outcome.ok) return { ok: true, ...outcome.result }
    const { error } = outcome
    const errorDescription =
      error instanceof BinderError ? error.errorDescription : [String((error as Error)?.message ?? error)]
    return { ok: false, bridge: requests[i]!.bridge, errorDescription }
  })
  for (const result of results) if (result.ok && !result.dryRun) await clearAlerts(ctx, BINDING_FAILURES, result.bridge)
  return { results }
}
