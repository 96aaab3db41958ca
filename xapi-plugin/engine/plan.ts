// The planner: desired state + kernel observation + record → ordered steps. Pure, so the
// rules (make before break, own only what you add, keep the first previous default
// route) are unit-tested without a kernel. Each owned resource has its own planner in
// plan/; this puts their parts together, in the order the steps must run.

import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type ApplyRequest, encodeApplyArgs } from '../../shared/plugin-args.ts'
import type { BridgeRecord, Step, Unchanged } from '../../shared/results.ts'
import type { Observed } from './observe.ts'
import { planAddresses } from './plan/addresses.ts'
import { planDefaultRoutes } from './plan/default-routes.ts'
import { planMirror } from './plan/mirror.ts'
import { orderRemovals } from './plan/order.ts'
import type { Part } from './plan/part.ts'
import { planRoutes } from './plan/routes.ts'
import { planSysctls } from './plan/sysctls.ts'

export { desiredSysctls } from './plan/sysctls.ts'
export { planRelease } from './plan/release.ts'

export interface Plan {
  /** Steps that add (run first, verified before anything is removed). */
  make: Step[]
  /** Steps that remove what is no longer wanted (run only once `make` is verified). */
  break: Step[]
  unchanged: Unchanged[]
  /** What we own while the plan runs: old and new together, written before acting. */
  intent: BridgeRecord
  /** What we own once every step has run. */
  final: BridgeRecord
}

/** `others`: the other bridges' records (see planDefaultRoutes). */
export function planApply(
  request: ApplyRequest,
  observed: Observed,
  record: BridgeRecord,
  now: string,
  others: BridgeRecord[] = [],
): Plan {
  const { bridge } = request
  const link = observed.bridge
  if (!link) {
    throw new BinderError(ErrorCode.NO_SUCH_DEVICE, `bridge ${JSON.stringify(bridge)} does not exist on this host`, [
      bridge,
    ])
  }
  const addresses = planAddresses(request, link, record)
  const mirrors = planMirror(request, observed, record)
  const sysctls = planSysctls(request, observed, record)
  const routes = planRoutes(request, observed, record)
  const defaultRoutes = planDefaultRoutes(request, observed, record, others)
  const parts: Part<unknown>[] = [addresses, mirrors, sysctls, routes, defaultRoutes]
  const linkUp: Step[] = link.flags.includes('UP') ? [] : [{ action: 'link-up', dev: bridge }]

  const final: BridgeRecord = {
    bridge,
    desired: encodeApplyArgs(request),
    addresses: addresses.owned,
    mirrors: mirrors.owned,
    routes: routes.owned,
    defaultRoutes: defaultRoutes.owned,
    sysctls: sysctls.owned,
    updatedAt: now,
  }
  return {
    make: [...linkUp, ...parts.flatMap(p => p.make)],
    break: orderRemovals(
      parts.flatMap(p => p.break),
      bridge,
    ),
    unchanged: parts.flatMap(p => p.unchanged),
    intent: intentOf(final, record),
    final,
  }
}

/** While a plan runs we own both what we had and what we are adding. */
function intentOf(final: BridgeRecord, record: BridgeRecord): BridgeRecord {
  return {
    ...final,
    addresses: unionBy(final.addresses, record.addresses, (a, b) => a === b),
    mirrors: unionBy(final.mirrors, record.mirrors, (a, b) => a.dev === b.dev && a.cidr === b.cidr),
    routes: unionBy(final.routes, record.routes, (a, b) => a.destination === b.destination && a.via === b.via),
    defaultRoutes: unionBy(final.defaultRoutes, record.defaultRoutes, (a, b) => a.family === b.family),
    sysctls: unionBy(final.sysctls, record.sysctls, (a, b) => a.path === b.path),
  }
}

function unionBy<T>(a: T[], b: T[], same: (x: T, y: T) => boolean): T[] {
  return [...a, ...b.filter(y => !a.some(x => same(x, y)))]
}
