// The hook's default route, verified after the fact. The hook switches in the default route
// of a family dom0 has none of with the addresses, before asking the gateway: displacing and
// shadowing nothing, it cuts nobody off, and dom0 is reachable as soon as the firewall
// routes. Its worker asks the gateway right after, and a silent one is undone: the slot
// gets back what the record says was there before (the route first displaced, or none), as
// a failed check leaves it.

import type { ApplyRequest } from '../../shared/plugin-args.ts'
import type { OwnedDefaultRoute } from '../../shared/results.ts'
import { runSteps } from '../engine/execute.ts'
import { withHostLock } from '../engine/lock.ts'
import { type Observed, defaultInSlot, observe } from '../engine/observe.ts'
import { restoreDefaultRoute } from '../engine/plan/default-routes.ts'
import { sameDefaultRoute } from '../kernel/ip.ts'
import { type Checked, askGateway, silentGateways } from './apply-steps.ts'
import type { CallContext } from './context.ts'

const inPlace = (observed: Observed) => (d: OwnedDefaultRoute) =>
  sameDefaultRoute(defaultInSlot(observed, d.family, d.ours.metric), d.ours)

/** Asks the gateway of each default route of ours in place; gives back the slots of the silent ones. */
export function verifyDefaultRoutes(request: ApplyRequest, ctx: CallContext): Promise<Checked[]> {
  const { bridge, gatewayCheckSeconds } = request
  return withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
    const state = ctx.store.load()
    const record = state.bridges[bridge]
    if (!record || gatewayCheckSeconds <= 0) return []
    const observed = await observe(bridge, undefined, [])
    const routes = record.defaultRoutes.filter(d => d.ours.gateway && inPlace(observed)(d))
    const checks = await Promise.all(
      routes.map(({ family, ours }) => askGateway(bridge, family, ours.gateway!, gatewayCheckSeconds)),
    )
    const silent = routes.filter(d => checks.some(c => c.family === d.family && !c.reachable))
    if (!silent.length) return checks
    await runSteps(
      silent.flatMap(d => restoreDefaultRoute(d, observed)),
      ctx.log,
    )
    state.bridges[bridge] = { ...record, defaultRoutes: record.defaultRoutes.filter(d => !silent.includes(d)) }
    ctx.store.save(state)
    const failed = checks.filter(c => !c.reachable)
    ctx.log.log('warning', `gateway did not answer, default route given back: ${silentGateways(failed)}`, {
      bridge,
      failed,
    })
    return checks
  })
}
