// apply: bind a bridge's addresses, routes, sysctls and default routes, make before break,
// verify the new gateways, and record what we own.

import { familyName } from '../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import type { ApplyRequest } from '../../shared/plugin-args.ts'
import type { ApplyResult, BridgeRecord, Step } from '../../shared/results.ts'
import { viewBridge } from '../engine/bridge-view.ts'
import { runSteps, undoSteps } from '../engine/execute.ts'
import { checkGateway } from '../engine/gateway-check.ts'
import { withHostLock } from '../engine/lock.ts'
import type { KernelRead } from '../kernel/ip-batch.ts'
import { type Plan, planApply } from '../engine/plan.ts'
import { type State, emptyRecord } from '../engine/state.ts'
import type { CallContext } from './context.ts'

type Switch = Extract<Step, { action: 'switch-default-route' }>
type Checked = ApplyResult['gatewayChecks'][number]

export interface ApplyOptions {
  /**
   * Only what needs no answer from the gateway: addresses, mirrors, routes, sysctls. No
   * default route switch, nothing removed; the record stays the plan's intent, so a full
   * apply afterwards finds the rest to do. For the vif-hotplug hook, which must not wait.
   */
  prepareOnly?: boolean
  /** A kernel read that is still true (apply-many's, while nothing has changed since). */
  kernel?: KernelRead
}

export function apply(request: ApplyRequest, ctx: CallContext, options: ApplyOptions = {}): Promise<ApplyResult> {
  return withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, () => applyHeld(request, ctx, options))
}

/** apply, with the host lock already held. */
export async function applyHeld(
  request: ApplyRequest,
  ctx: CallContext,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const { log, store } = ctx
  const { bridge } = request
  const state = store.load()
  const view = await viewBridge(state, bridge, request.management?.bridge, request, options.kernel)
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
  if (request.dryRun) return result

  // Written before acting, so a call killed half-way leaves a record that owns everything
  // it might have added and still knows which default route to give back.
  state.bridges[bridge] = plan.intent
  store.save(state)
  const make = options.prepareOnly ? plan.make.filter(s => s.action !== 'switch-default-route') : plan.make
  if (options.prepareOnly) result.changes = make
  try {
    await runSteps(make, log)
  } catch (error) {
    if (previousRecord) state.bridges[bridge] = previousRecord
    else delete state.bridges[bridge]
    store.save(state)
    throw error
  }
  if (options.prepareOnly) return result

  const switches = plan.make.filter((s): s is Switch => s.action === 'switch-default-route')
  if (request.gatewayCheckSeconds > 0) {
    result.gatewayChecks = await checkGateways(request, switches)
    const failed = result.gatewayChecks.filter(c => !c.reachable)
    if (failed.length) await rollBackGateways(failed, switches, plan, record, state, ctx, bridge)
  }

  // If a removal fails, what was added stays in place and owned (plan.intent is on disk);
  // the next apply retries the removals.
  await runSteps(plan.break, log)
  state.bridges[bridge] = plan.final
  store.save(state)
  if (result.changes.length) log.log('info', 'applied', { bridge, changes: result.changes.length })
  return result
}

function checkGateways(request: ApplyRequest, switches: Switch[]): Promise<Checked[]> {
  return Promise.all(
    switches.map(async s => ({
      family: s.family,
      gateway: s.to.gateway!,
      ...(await checkGateway(request.bridge, s.family, s.to.gateway!, request.gatewayCheckSeconds)),
    })),
  )
}

/**
 * Never lock the admin out: the default routes whose new gateway did not answer go back to
 * what they displaced, the record says so, and the call fails. The addresses stay (they
 * harm nothing, and a later apply converges from them).
 */
async function rollBackGateways(
  failed: Checked[],
  switches: Switch[],
  plan: Plan,
  record: BridgeRecord,
  state: State,
  ctx: CallContext,
  bridge: string,
): Promise<never> {
  const isFailed = (family: number) => failed.some(f => f.family === family)
  await undoSteps(
    switches.filter(s => isFailed(s.family)),
    ctx.log,
  )
  state.bridges[bridge] = {
    ...plan.intent,
    defaultRoutes: [
      ...plan.intent.defaultRoutes.filter(d => !isFailed(d.family)),
      ...record.defaultRoutes.filter(d => isFailed(d.family)),
    ],
  }
  ctx.store.save(state)
  const words = failed.map(f => `${familyName(f.family)} gateway ${f.gateway}: ${f.reason}`).join('; ')
  ctx.log.log('warning', 'gateway check failed, previous default route restored', { bridge, failed })
  throw new BinderError(
    ErrorCode.GATEWAY_UNREACHABLE,
    `${words}; the previous default route was restored`,
    failed.map(f => f.gateway),
  )
}
