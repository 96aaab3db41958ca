// The planner: desired state + kernel observation + record → ordered steps. Pure, so the
// rules (make before break, own only what you add, keep the first previous default
// route) are unit-tested without a kernel.

import { type Family, cidrText } from '../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type ApplyRequest, encodeApplyArgs } from '../../shared/plugin-args.ts'
import { KERNEL_DEFAULT_METRIC, describeDefaultRoute, sameDefaultRoute } from '../kernel/ip.ts'
import { type Observed, defaultInSlot, defaultInUse, hasAddress, hasCidr, routeDestination } from './observe.ts'
import { sysctlPath } from '../kernel/sysctl.ts'
import type {
  BridgeRecord,
  DefaultRoute,
  OwnedDefaultRoute,
  OwnedRoute,
  OwnedSysctl,
  Step,
  Unchanged,
} from '../../shared/results.ts'

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

function sameRoute(a: OwnedRoute, b: OwnedRoute): boolean {
  return a.destination === b.destination && a.via === b.via
}

export function desiredSysctls(request: ApplyRequest): { path: string; value: string }[] {
  const wanted: { path: string; value: string }[] = []
  // Without it, removing the first IPv4 address of a subnet takes every other address of
  // that subnet with it, ours included: changing dom0's address would drop it entirely.
  if (request.addresses.some(a => a.family === 4)) {
    wanted.push({ path: sysctlPath(4, request.bridge, 'promote_secondaries'), value: '1' })
  }
  if (request.proxyArp) wanted.push({ path: sysctlPath(4, request.bridge, 'proxy_arp'), value: '1' })
  if (request.forwarding) {
    wanted.push({ path: sysctlPath(4, request.bridge, 'forwarding'), value: '1' })
    if (request.addresses.some(a => a.family === 6))
      wanted.push({ path: sysctlPath(6, request.bridge, 'forwarding'), value: '1' })
  }
  return wanted
}

function unionBy<T>(a: T[], b: T[], same: (x: T, y: T) => boolean): T[] {
  return [...a, ...b.filter(y => !a.some(x => same(x, y)))]
}

/**
 * `others`: the records of the other bridges. When the default route we displace is
 * another bridge's, the route to give back one day is the one that bridge displaced (its
 * bridge may be long gone by then).
 */
export function planApply(
  request: ApplyRequest,
  observed: Observed,
  record: BridgeRecord,
  now: string,
  others: BridgeRecord[] = [],
): Plan {
  const { bridge } = request
  const make: Step[] = []
  const breaking: Step[] = []
  const unchanged: Unchanged[] = []
  const link = observed.bridge
  if (!link)
    throw new BinderError(ErrorCode.NO_SUCH_DEVICE, `bridge ${JSON.stringify(bridge)} does not exist on this host`, [
      bridge,
    ])

  if (!link.flags.includes('UP')) make.push({ action: 'link-up', dev: bridge })

  // Addresses: add what is missing. We own only what we add, or what we added before.
  const ownedAddresses: string[] = []
  const replacedInPlace: string[] = []
  for (const cidr of request.addresses) {
    const text = cidrText(cidr)
    const present = hasAddress(link, cidr.address, cidr.prefix)
    if (!present && cidr.family === 6) {
      // The kernel refuses an IPv6 address it has under another prefix: ours, with its old
      // prefix, goes just before the new one comes (one address cannot be made before broken).
      const old = record.addresses.find(r => r !== text && r.startsWith(`${cidr.address}/`) && hasCidr(link, r))
      if (old) {
        make.push({ action: 'remove-address', dev: bridge, cidr: old })
        replacedInPlace.push(old)
      }
    }
    if (!present) make.push({ action: 'add-address', dev: bridge, cidr: text })
    else unchanged.push({ what: 'address', value: `${text} dev ${bridge}` })
    if (!present || record.addresses.includes(text)) ownedAddresses.push(text)
  }
  const wantedAddresses = request.addresses.map(cidrText)
  for (const text of record.addresses) {
    if (!wantedAddresses.includes(text) && !replacedInPlace.includes(text) && hasCidr(link, text)) {
      breaking.push({ action: 'remove-address', dev: bridge, cidr: text })
    }
  }

  // Management mirror: the same address as a host route on the management bridge.
  const ownedMirrors: BridgeRecord['mirrors'] = []
  if (request.management) {
    const { address, family, bridge: dev } = request.management
    if (!observed.management)
      throw new BinderError(
        ErrorCode.NO_SUCH_DEVICE,
        `management bridge ${JSON.stringify(dev)} does not exist on this host`,
        [dev],
      )
    const prefix = family === 4 ? 32 : 128
    const cidr = `${address}/${prefix}`
    const present = hasAddress(observed.management, address, prefix)
    const recorded = record.mirrors.some(m => m.dev === dev && m.cidr === cidr)
    if (!present) make.push({ action: 'add-address', dev, cidr })
    else unchanged.push({ what: 'address', value: `${cidr} dev ${dev}` })
    if (!present || recorded) ownedMirrors.push({ dev, cidr })
  }
  for (const mirror of record.mirrors) {
    if (!ownedMirrors.some(m => m.dev === mirror.dev && m.cidr === mirror.cidr) && mayStillHold(mirror, observed)) {
      breaking.push({ action: 'remove-address', dev: mirror.dev, cidr: mirror.cidr })
    }
  }

  // Sysctls: remember the value we found the first time, give it back when no longer wanted.
  const ownedSysctls: OwnedSysctl[] = []
  const wantedSysctls = desiredSysctls(request)
  for (const { path, value } of wantedSysctls) {
    const current = observed.sysctls[path]
    const recorded = record.sysctls.find(s => s.path === path)
    if (current === undefined) throw new BinderError(ErrorCode.NO_SUCH_DEVICE, `${path} does not exist`, [path])
    if (current !== value) make.push({ action: 'set-sysctl', path, value, previous: current })
    else unchanged.push({ what: 'sysctl', value: `${path}=${value}` })
    if (current !== value || recorded) ownedSysctls.push({ path, value, previous: recorded?.previous ?? current })
  }
  for (const owned of record.sysctls) {
    if (!wantedSysctls.some(w => w.path === owned.path) && observed.sysctls[owned.path] !== undefined) {
      breaking.push({ action: 'set-sysctl', path: owned.path, value: owned.previous, previous: owned.value })
    }
  }

  // Routes through the bridge. A route to the same destination that is not ours and goes
  // elsewhere is somebody else's decision: refuse rather than overwrite it.
  const ownedRoutes: OwnedRoute[] = []
  for (const route of request.routes) {
    const family = route.destination.family
    const destination = cidrText(route.destination)
    const wanted: OwnedRoute = { destination, via: route.via }
    const existing = observed.routes[family].filter(r => routeDestination(r, family) === destination)
    const recorded = record.routes.some(r => r.destination === destination)
    const exact = existing.find(r => r.dev === bridge && r.gateway === route.via)
    if (exact) {
      unchanged.push({ what: 'route', value: `${destination}${route.via ? ` via ${route.via}` : ''} dev ${bridge}` })
      if (recorded) ownedRoutes.push(wanted)
      continue
    }
    if (existing.length && !recorded) {
      const other = existing[0]!
      throw new BinderError(
        ErrorCode.CONFLICT,
        `routes: ${destination} already goes ${other.gateway ? `via ${other.gateway} ` : ''}dev ${other.dev ?? '?'}, a route vif-ip-binder does not own`,
        [destination],
      )
    }
    make.push({ action: 'add-route', family, destination, via: route.via, dev: bridge, replace: existing.length > 0 })
    ownedRoutes.push(wanted)
  }
  for (const owned of record.routes) {
    if (!ownedRoutes.some(r => r.destination === owned.destination))
      breaking.push(...removeOwnedRoute(owned, bridge, observed))
  }

  // Default routes: one `ip route replace` in the slot (metric) of the route in use, and the
  // first route we displaced is kept as "previous" across every later apply. Once we own a
  // slot we stay in it, whatever other default routes come and go around it.
  const ownedDefaults: OwnedDefaultRoute[] = []
  for (const gateway of request.gateways) {
    const family = gateway.family
    const entry = record.defaultRoutes.find(d => d.family === family)
    const metric = entry ? entry.ours.metric : (defaultInUse(observed, family)?.metric ?? KERNEL_DEFAULT_METRIC[family])
    const current = defaultInSlot(observed, family, metric)
    const ours: DefaultRoute = { family, gateway: gateway.address, dev: bridge, metric }
    const displacedOwner = others
      .flatMap(o => o.defaultRoutes)
      .find(d => d.family === family && sameDefaultRoute(current, d.ours))
    const previous = entry ? entry.previous : displacedOwner ? displacedOwner.previous : (current ?? null)
    if (sameDefaultRoute(current, ours)) {
      unchanged.push({ what: 'default-route', value: describeDefaultRoute(ours) })
    } else {
      make.push({
        action: 'switch-default-route',
        family,
        to: ours,
        // What undoing this switch puts back. An empty slot with a record means the bridge
        // went and took our route with it: the route to fall back to is the one we first
        // displaced, not none (a failed gateway check must never leave no way out).
        from: current ?? entry?.previous ?? null,
        description: `${describeDefaultRoute(current)} -> ${describeDefaultRoute(ours)}`,
      })
    }
    ownedDefaults.push({ family, ours, previous })
  }
  for (const entry of record.defaultRoutes) {
    if (!ownedDefaults.some(d => d.family === entry.family)) breaking.push(...restoreDefaultRoute(entry, observed))
  }

  const final: BridgeRecord = {
    bridge,
    desired: encodeApplyArgs(request),
    addresses: ownedAddresses,
    mirrors: ownedMirrors,
    routes: ownedRoutes,
    defaultRoutes: ownedDefaults,
    sysctls: ownedSysctls,
    updatedAt: now,
  }
  const intent: BridgeRecord = {
    ...final,
    addresses: unionBy(ownedAddresses, record.addresses, (a, b) => a === b),
    mirrors: unionBy(ownedMirrors, record.mirrors, (a, b) => a.dev === b.dev && a.cidr === b.cidr),
    routes: unionBy(ownedRoutes, record.routes, sameRoute),
    defaultRoutes: unionBy(ownedDefaults, record.defaultRoutes, (a, b) => a.family === b.family),
    sysctls: unionBy(ownedSysctls, record.sysctls, (a, b) => a.path === b.path),
  }
  return { make, break: orderRemovals(breaking, bridge), unchanged, intent, final }
}

/**
 * The order in which things are given back. Management mirrors go first: when the last
 * IPv4 address leaves a device the kernel flushes every route through it, so removing the
 * mirror after restoring a default route through the management bridge would take that
 * route away again. Then the default routes (the way out matters most), then routes,
 * then the bridge's addresses (routes via a gateway need them), then sysctls.
 */
export function orderRemovals(steps: Step[], bridge: string): Step[] {
  const rank = (step: Step): number => {
    switch (step.action) {
      case 'remove-address':
        return step.dev === bridge ? 3 : 0
      case 'switch-default-route':
      case 'remove-default-route':
        return 1
      case 'remove-route':
        return 2
      default:
        return 4
    }
  }
  return steps
    .map((step, i) => ({ step, i }))
    .sort((a, b) => rank(a.step) - rank(b.step) || a.i - b.i)
    .map(({ step }) => step)
}

/**
 * Gives a default route back, but only where the route in place is still ours, or gone
 * (the kernel drops it with the bridge): a route somebody set since is theirs to keep.
 */
function restoreDefaultRoute(entry: OwnedDefaultRoute, observed: Observed): Step[] {
  const current = defaultInSlot(observed, entry.family, entry.ours.metric)
  if (current && !sameDefaultRoute(current, entry.ours)) return []
  if (entry.previous) {
    return [
      {
        action: 'switch-default-route',
        family: entry.family,
        to: entry.previous,
        from: current ?? null,
        description: `${describeDefaultRoute(current)} -> ${describeDefaultRoute(entry.previous)}`,
      },
    ]
  }
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

/** The removal of a route we own, if the kernel still has it as we made it. */
function removeOwnedRoute(owned: OwnedRoute, bridge: string, observed: Observed): Step[] {
  const family: Family = owned.destination.includes(':') ? 6 : 4
  const present = observed.routes[family].some(
    r => routeDestination(r, family) === owned.destination && r.dev === bridge && r.gateway === owned.via,
  )
  return present
    ? [{ action: 'remove-route', family, destination: owned.destination, via: owned.via, dev: bridge }]
    : []
}

/**
 * Whether a mirror may still be on its bridge. Only one management bridge is observed per
 * call; a mirror on another one is assumed present (its removal is tolerant).
 */
function mayStillHold(mirror: BridgeRecord['mirrors'][number], observed: Observed): boolean {
  return observed.management?.ifname !== mirror.dev || hasCidr(observed.management, mirror.cidr)
}

/** Release: give back everything the record owns, in orderRemovals' order. */
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
    if (observed.sysctls[owned.path] !== undefined && observed.sysctls[owned.path] !== owned.previous) {
      steps.push({ action: 'set-sysctl', path: owned.path, value: owned.previous, previous: owned.value })
    }
  }
  return orderRemovals(steps, record.bridge)
}
