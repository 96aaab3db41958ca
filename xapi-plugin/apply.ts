// apply: bind a bridge's addresses, routes, sysctls and default routes, make before break,
// verify the new gateways, and record what we own.

import { type Family, familyName } from '../shared/addresses.ts'
import { BinderError, ErrorCode } from '../shared/errors.ts'
import type { ApplyRequest } from '../shared/plugin-args.ts'
import type { CallContext } from './context.ts'
import { runSteps, undoSteps } from './execute.ts'
import { type GatewayCheck, checkGateway } from './gateway-check.ts'
import { withHostLock } from './lock.ts'
import { observe } from './observe.ts'
import { type Step, type Unchanged, desiredSysctls, planApply } from './plan.ts'
import { type BridgeRecord, emptyRecord } from './state.ts'

export interface ApplyResult {
  bridge: string
  dryRun: boolean
  changes: Step[]
  unchanged: Unchanged[]
  gatewayChecks: (GatewayCheck & { family: Family; gateway: string })[]
}

export function sysctlPathsFor(request: ApplyRequest | undefined, record: BridgeRecord): string[] {
  const paths = new Set(record.sysctls.map(s => s.path))
  if (request) for (const s of desiredSysctls(request)) paths.add(s.path)
  return [...paths]
}

export async function apply(request: ApplyRequest, ctx: CallContext): Promise<ApplyResult> {
  const { log, store, env } = ctx
  return withHostLock(env.lockPath, env.lockWaitSeconds, async () => {
    const state = store.load()
    const previousRecord = state.bridges[request.bridge]
    const record = previousRecord ?? emptyRecord(request.bridge)
    const observed = await observe(request.bridge, request.management?.bridge, sysctlPathsFor(request, record))
    const others = Object.values(state.bridges).filter(r => r.bridge !== request.bridge)
    const plan = planApply(request, observed, record, new Date().toISOString(), others)
    const result: ApplyResult = {
      bridge: request.bridge,
      dryRun: request.dryRun,
      changes: [...plan.make, ...plan.break],
      unchanged: plan.unchanged,
      gatewayChecks: [],
    }
    if (request.dryRun) return result

    const restoreRecord = () => {
      if (previousRecord) state.bridges[request.bridge] = previousRecord
      else delete state.bridges[request.bridge]
      store.save(state)
    }

    // Written before acting, so a call killed half-way leaves a record that owns everything
    // it might have added and still knows which default route to give back.
    state.bridges[request.bridge] = plan.intent
    store.save(state)
    try {
      await runSteps(plan.make, log)
    } catch (error) {
      restoreRecord()
      throw error
    }

    const switches = plan.make.filter(
      (s): s is Extract<Step, { action: 'switch-default-route' }> => s.action === 'switch-default-route',
    )
    if (request.gatewayCheckSeconds > 0) {
      const checks = await Promise.all(
        switches.map(async s => ({
          family: s.family,
          gateway: s.to.gateway!,
          ...(await checkGateway(request.bridge, s.family, s.to.gateway!, request.gatewayCheckSeconds)),
        })),
      )
      result.gatewayChecks = checks
      const failed = checks.filter(c => !c.reachable)
      if (failed.length) {
        // Never lock the admin out: the displaced default route goes back; the addresses
        // stay (they harm nothing and a later apply converges from them).
        await undoSteps(switches.filter(s => failed.some(f => f.family === s.family)), log)
        state.bridges[request.bridge] = {
          ...plan.intent,
          defaultRoutes: [
            ...plan.intent.defaultRoutes.filter(d => !failed.some(f => f.family === d.family)),
            ...record.defaultRoutes.filter(d => failed.some(f => f.family === d.family)),
          ],
        }
        store.save(state)
        const words = failed.map(f => `${familyName(f.family)} gateway ${f.gateway}: ${f.reason}`).join('; ')
        log.log('warning', 'gateway check failed, previous default route restored', { bridge: request.bridge, failed })
        throw new BinderError(
          ErrorCode.GATEWAY_UNREACHABLE,
          `${words}; the previous default route was restored`,
          failed.map(f => f.gateway),
        )
      }
    }

    // If a removal fails, what was added stays in place and owned (plan.intent is on disk);
    // the next apply retries the removals.
    await runSteps(plan.break, log)
    state.bridges[request.bridge] = plan.final
    store.save(state)
    if (result.changes.length) log.log('info', 'applied', { bridge: request.bridge, changes: result.changes.length })
    return result
  })
}
