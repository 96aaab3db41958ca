// apply-many: several bridges in one call, as Xen Orchestra sends a host all its bindings
// after a reconnection. One lock, one kernel read for as long as nothing changes, then each
// bridge converged in turn exactly as its own apply would. One bridge's failure does not
// stop the others: each request has its own result or error, in order.
//
//   vif-ip-binder apply-many requests='[{"bridge":"xapi1","addresses":"192.0.2.2/24"},…]'

import { BinderError, invalidArgument } from '../../shared/errors.ts'
import { type ApplyRequest, type PluginArgs, parseApplyArgs, rejectUnknownKeys } from '../../shared/plugin-args.ts'
import { type ApplyManyResult, MAX_APPLY_MANY as MAX_REQUESTS, type Step } from '../../shared/results.ts'
import { withHostLock } from '../engine/lock.ts'
import { type KernelRead, readKernel } from '../kernel/ip-batch.ts'
import { applyHeld } from './apply.ts'
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

/**
 * Whether a step changes what another bridge's plan reads: routes (a default route, an
 * owned route) and addresses on another interface (a mirror on the management bridge).
 * Addresses, link state and sysctls of the bridge itself concern only that bridge.
 */
function reachesBeyond(step: Step, bridge: string): boolean {
  if (step.action === 'set-sysctl') return false
  if (step.action === 'link-up' || step.action === 'add-address' || step.action === 'remove-address') {
    return step.dev !== bridge
  }
  return true
}

/** `confirmSeconds`: one confirmation window for every bridge of the call (see apply). */
export async function applyMany(
  requests: ApplyRequest[],
  ctx: CallContext,
  confirmSeconds = 0,
): Promise<ApplyManyResult> {
  const many = await applyManyHeld(requests, ctx, confirmSeconds)
  for (const result of many.results)
    if (result.ok && !result.dryRun) await clearAlerts(ctx, BINDING_FAILURES, result.bridge)
  return many
}

function applyManyHeld(requests: ApplyRequest[], ctx: CallContext, confirmSeconds: number): Promise<ApplyManyResult> {
  return withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
    const devs = new Set(requests.flatMap(r => (r.management ? [r.bridge, r.management.bridge] : [r.bridge])))
    // Still true for the next bridge unless a request changed more than its own bridge.
    let kernel: KernelRead | undefined = await readKernel([...devs])
    const results: ApplyManyResult['results'] = []
    for (const request of requests) {
      try {
        const result = await applyHeld(request, ctx, { kernel, confirmSeconds })
        if (!request.dryRun && result.changes.some(s => reachesBeyond(s, request.bridge))) kernel = undefined
        results.push({ ok: true, ...result })
      } catch (error) {
        kernel = undefined
        const errorDescription =
          error instanceof BinderError ? error.errorDescription : [String((error as Error)?.message ?? error)]
        results.push({ ok: false, bridge: request.bridge, errorDescription })
      }
    }
    return { results }
  })
}
