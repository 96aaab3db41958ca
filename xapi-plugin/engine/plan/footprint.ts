// What a bridge's plan reads of the kernel and what its steps change, as keys. Several
// bridges can be planned from one kernel read and changed in one batch only when none of
// them changes what another reads or changes: then each plan is the one it would be
// after the others had run, as if every bridge had been applied alone, one after another.
//
// Keys: `link:<dev>` (an interface's state), `addr:<dev>:<cidr>` (one address),
// `route:<family>:<destination>`, `default:<family>` (the default routes, and the records
// of who displaced whom). A key ending in `*` stands for every key it starts.

import { type Family, familyOf, networkOf } from '../../../shared/addresses.ts'
import type { ApplyRequest } from '../../../shared/plugin-args.ts'
import type { BridgeRecord, Step } from '../../../shared/results.ts'

const route = (family: Family, destination: string) => `route:${family}:${destination}`

/** The kernel's prefix route that comes and goes with an address. */
function prefixRoute(cidr: string): string {
  const slash = cidr.indexOf('/')
  const family = familyOf(cidr)
  const network = networkOf({ address: cidr.slice(0, slash), prefix: Number(cidr.slice(slash + 1)), family })
  return route(family, `${network}${cidr.slice(slash)}`)
}

/** Everything planApply and the other bridges' records may read for this bridge. */
export function readsOf(request: ApplyRequest, record: BridgeRecord | undefined): string[] {
  const keys = [`link:${request.bridge}`, `addr:${request.bridge}:*`]
  const mirrors = [...(record?.mirrors ?? [])]
  if (request.management) {
    const { address, bridge } = request.management
    mirrors.push({ dev: bridge, cidr: `${address}/${request.management.family === 4 ? 32 : 128}` })
  }
  for (const mirror of mirrors) keys.push(`addr:${mirror.dev}:${mirror.cidr}`)
  for (const spec of request.routes) {
    const { address, prefix, family } = spec.destination
    keys.push(route(family, `${address}/${prefix}`))
  }
  for (const owned of record?.routes ?? []) keys.push(route(familyOf(owned.destination), owned.destination))
  const families = new Set([
    ...request.gateways.map(g => g.family),
    ...(record?.defaultRoutes ?? []).map(d => d.family),
  ])
  for (const family of families) keys.push(`default:${family}`)
  return keys
}

function writesOfStep(step: Step): string[] {
  switch (step.action) {
    case 'add-address':
      return [`addr:${step.dev}:${step.cidr}`, prefixRoute(step.cidr)]
    // The kernel may take routes through the device with an address, and bring some back with a link.
    case 'remove-address':
      return [`addr:${step.dev}:${step.cidr}`, 'route:*', 'default:*']
    case 'link-up':
      return [`link:${step.dev}`, `addr:${step.dev}:*`, 'route:*']
    case 'add-route':
    case 'remove-route':
      return [route(step.family, step.destination)]
    case 'switch-default-route':
    case 'remove-default-route':
      return [`default:${step.family}`]
    case 'set-sysctl':
      return []
  }
}

/** What running `steps` may change, and the default routes whose record changes without a step. */
export function writesOf(steps: Step[], record: BridgeRecord, final: BridgeRecord): string[] {
  const keys = steps.flatMap(writesOfStep)
  const entry = (r: BridgeRecord, family: Family) => JSON.stringify(r.defaultRoutes.find(d => d.family === family))
  for (const family of [4, 6] as const)
    if (entry(record, family) !== entry(final, family)) keys.push(`default:${family}`)
  return keys
}

const covers = (key: string, other: string) => key.endsWith('*') && other.startsWith(key.slice(0, -1))

function overlaps(a: string[], b: string[]): boolean {
  return a.some(key => b.some(other => other === key || covers(key, other) || covers(other, key)))
}

export interface Footprint {
  reads: string[]
  writes: string[]
}

/**
 * Whether a bridge must wait for a fresh read once the bridges before it (`round`) have
 * run: it reads what they change, or changes what they read or change. A wildcard change
 * (routes the kernel may drop with an address) matters to what is read, not to another
 * bridge's own changes, which are never those routes.
 */
export function mustWait(next: Partial<Footprint>, round: Footprint): boolean {
  const exact = (keys: string[]) => keys.filter(key => !key.endsWith('*'))
  const { reads = [], writes = [] } = next
  return overlaps(reads, round.writes) || overlaps(writes, round.reads) || overlaps(exact(writes), exact(round.writes))
}
