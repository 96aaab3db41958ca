// Default routes: one `ip route replace` in the slot (metric) of the route in use, and the
// first route we displaced is kept as "previous" across every later apply. Once we own a
// slot we stay in it, whatever other default routes come and go around it.

import type { ApplyRequest } from '../../../shared/plugin-args.ts'
import type { BridgeRecord, DefaultRoute, OwnedDefaultRoute, Step } from '../../../shared/results.ts'
import { KERNEL_DEFAULT_METRIC, describeDefaultRoute, sameDefaultRoute } from '../../kernel/ip.ts'
import { type Observed, defaultInSlot, defaultInUse } from '../observe.ts'
import { type Part, emptyPart } from './part.ts'

/**
 * `others`: the records of the other bridges. When the default route we displace is
 * another bridge's, the route to give back one day is the one that bridge displaced (its
 * bridge may be long gone by then).
 */
export function planDefaultRoutes(
  request: ApplyRequest,
  observed: Observed,
  record: BridgeRecord,
  others: BridgeRecord[],
): Part<OwnedDefaultRoute> {
  const part = emptyPart<OwnedDefaultRoute>()
  for (const { family, address } of request.gateways) {
    const entry = record.defaultRoutes.find(d => d.family === family)
    const metric = entry ? entry.ours.metric : (defaultInUse(observed, family)?.metric ?? KERNEL_DEFAULT_METRIC[family])
    const current = defaultInSlot(observed, family, metric)
    const ours: DefaultRoute = { family, gateway: address, dev: request.bridge, metric }
    const displaced = others
      .flatMap(o => o.defaultRoutes)
      .find(d => d.family === family && sameDefaultRoute(current, d.ours))
    const previous = entry ? entry.previous : displaced ? displaced.previous : (current ?? null)
    if (sameDefaultRoute(current, ours)) {
      part.unchanged.push({ what: 'default-route', value: describeDefaultRoute(ours) })
    } else {
      // What undoing this switch puts back. An empty slot with a record means the bridge
      // went and took our route with it: the route to fall back to is the one we first
      // displaced, not none (a failed gateway check must never leave no way out).
      part.make.push(switchTo(ours, current ?? entry?.previous ?? null, current))
    }
    part.owned.push({ family, ours, previous })
  }
  for (const entry of record.defaultRoutes) {
    if (!part.owned.some(d => d.family === entry.family)) part.break.push(...restoreDefaultRoute(entry, observed))
  }
  return part
}

function switchTo(to: DefaultRoute, from: DefaultRoute | null, current: DefaultRoute | undefined): Step {
  const description = `${describeDefaultRoute(current)} -> ${describeDefaultRoute(to)}`
  return { action: 'switch-default-route', family: to.family, to, from, description }
}

/**
 * Gives a default route back, but only where the route in place is still ours, or gone
 * (the kernel drops it with the bridge): a route somebody set since is theirs to keep.
 */
export function restoreDefaultRoute(entry: OwnedDefaultRoute, observed: Observed): Step[] {
  const current = defaultInSlot(observed, entry.family, entry.ours.metric)
  if (current && !sameDefaultRoute(current, entry.ours)) return []
  if (entry.previous) return [switchTo(entry.previous, current ?? null, current)]
  if (!current) return []
  return [
    {
      action: 'remove-default-route',
      family: entry.family,
      route: current,
      description: describeDefaultRoute(current),
    },
  ]
}
