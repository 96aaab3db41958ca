// Routes through the bridge. A route to the same destination that is not ours and goes
// elsewhere is somebody else's decision: refuse rather than overwrite it.

import { type Family, cidrText, familyOf } from '../../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../../shared/errors.ts'
import type { ApplyRequest } from '../../../shared/plugin-args.ts'
import type { BridgeRecord, OwnedRoute, Step } from '../../../shared/results.ts'
import { type Observed, routeDestination } from '../observe.ts'
import { type Part, emptyPart } from './part.ts'

export function planRoutes(request: ApplyRequest, observed: Observed, record: BridgeRecord): Part<OwnedRoute> {
  const { bridge } = request
  const part = emptyPart<OwnedRoute>()
  for (const route of request.routes) {
    const family = route.destination.family
    const destination = cidrText(route.destination)
    const wanted: OwnedRoute = { destination, via: route.via }
    const existing = observed.routes[family].filter(r => routeDestination(r, family) === destination)
    const recorded = record.routes.some(r => r.destination === destination)
    if (existing.some(r => r.dev === bridge && r.gateway === route.via)) {
      part.unchanged.push({
        what: 'route',
        value: `${destination}${route.via ? ` via ${route.via}` : ''} dev ${bridge}`,
      })
      if (recorded) part.owned.push(wanted)
      continue
    }
    const other = existing[0]
    if (other && !recorded) {
      throw new BinderError(
        ErrorCode.CONFLICT,
        `routes: ${destination} already goes ${other.gateway ? `via ${other.gateway} ` : ''}dev ${other.dev ?? '?'}, a route vif-ip-binder does not own`,
        [destination],
      )
    }
    const previous = other ? { previous: { via: other.gateway, dev: other.dev ?? bridge } } : {}
    part.make.push({
      action: 'add-route',
      family,
      destination,
      via: route.via,
      dev: bridge,
      replace: !!other,
      ...previous,
    })
    part.owned.push(wanted)
  }
  for (const owned of record.routes) {
    if (!part.owned.some(r => r.destination === owned.destination)) {
      part.break.push(...removeOwnedRoute(owned, bridge, observed))
    }
  }
  return part
}

/** The removal of a route we own, if the kernel still has it as we made it. */
export function removeOwnedRoute(owned: OwnedRoute, bridge: string, observed: Observed): Step[] {
  const family: Family = familyOf(owned.destination)
  const present = observed.routes[family].some(
    r => routeDestination(r, family) === owned.destination && r.dev === bridge && r.gateway === owned.via,
  )
  return present
    ? [{ action: 'remove-route', family, destination: owned.destination, via: owned.via, dev: bridge }]
    : []
}
