// Release: give back everything the record owns, in orderRemovals' order, skipping what the
// kernel no longer has (the bridge may be gone, and its addresses and routes with it).

import type { BridgeRecord, Step } from '../../../shared/results.ts'
import { type Observed, hasCidr } from '../observe.ts'
import { restoreDefaultRoute } from './default-routes.ts'
import { mayStillHold } from './mirror.ts'
import { orderRemovals } from './order.ts'
import { removeOwnedRoute } from './routes.ts'

export function planRelease(record: BridgeRecord, observed: Observed): Step[] {
  const steps: Step[] = record.defaultRoutes.flatMap(entry => restoreDefaultRoute(entry, observed))
  for (const owned of record.routes) steps.push(...removeOwnedRoute(owned, record.bridge, observed))
  for (const mirror of record.mirrors) {
    if (mayStillHold(mirror, observed)) steps.push({ action: 'remove-address', dev: mirror.dev, cidr: mirror.cidr })
  }
  for (const cidr of record.addresses) {
    if (hasCidr(observed.bridge, cidr)) steps.push({ action: 'remove-address', dev: record.bridge, cidr })
  }
  for (const owned of record.sysctls) {
    const current = observed.sysctls[owned.path]
    if (current !== undefined && current !== owned.previous) {
      steps.push({ action: 'set-sysctl', path: owned.path, value: owned.previous, previous: owned.value })
    }
  }
  return orderRemovals(steps, record.bridge)
}
