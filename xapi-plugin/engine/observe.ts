// One read of everything a plan depends on, straight from the kernel. Plans are computed
// from this and the record only, never from what an earlier call believed.

import type { Family } from '../../shared/addresses.ts'
import { type IpLink, type IpRoute, defaultRoutesOf } from '../kernel/ip.ts'
import { type KernelRead, readKernel } from '../kernel/ip-batch.ts'
import { readSysctl } from '../kernel/sysctl.ts'
import type { DefaultRoute } from '../../shared/results.ts'

export interface Observed {
  bridge: IpLink | undefined
  management: IpLink | undefined
  routes: Record<Family, IpRoute[]>
  /** Default routes per family, lowest metric (the one in use) first. */
  defaults: Record<Family, DefaultRoute[]>
  sysctls: Record<string, string | undefined>
}

export async function observe(
  bridge: string,
  managementBridge: string | undefined,
  sysctlPaths: string[],
  /** A read of the kernel made earlier in the same call and still true, to use instead. */
  known?: KernelRead,
): Promise<Observed> {
  // One `ip` for the whole kernel view; the sysctls are files.
  const [kernel, ...sysctlValues] = await Promise.all([
    known ?? readKernel(managementBridge ? [bridge, managementBridge] : [bridge]),
    ...sysctlPaths.map(readSysctl),
  ])
  const bridgeLink = kernel.links.get(bridge)
  const management = managementBridge ? kernel.links.get(managementBridge) : undefined
  const { 4: routes4, 6: routes6 } = kernel.routes
  return {
    bridge: bridgeLink,
    management,
    routes: { 4: routes4, 6: routes6 },
    defaults: { 4: defaultRoutesOf(routes4, 4), 6: defaultRoutesOf(routes6, 6) },
    sysctls: Object.fromEntries(sysctlPaths.map((path, i) => [path, sysctlValues[i]])),
  }
}

export function hasAddress(link: IpLink | undefined, address: string, prefix: number): boolean {
  return !!link?.addr_info?.some(a => a.local === address && a.prefixlen === prefix)
}

/** `hasAddress` for CIDR text as records keep it (`192.0.2.2/24`). */
export function hasCidr(link: IpLink | undefined, cidr: string): boolean {
  const slash = cidr.indexOf('/')
  return hasAddress(link, cidr.slice(0, slash), Number(cidr.slice(slash + 1)))
}

/** `ip -j route` prints host routes without their /32 or /128. */
export function routeDestination(route: IpRoute, family: Family): string {
  if (route.dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0'
  return route.dst.includes('/') ? route.dst : `${route.dst}/${family === 4 ? 32 : 128}`
}

/** The default route in use for a family. */
export function defaultInUse(observed: Observed, family: Family): DefaultRoute | undefined {
  return observed.defaults[family][0]
}

/** The default route in one metric slot, which `ip route replace` would overwrite. */
export function defaultInSlot(
  observed: Observed,
  family: Family,
  metric: number | undefined,
): DefaultRoute | undefined {
  return observed.defaults[family].find(d => d.metric === metric)
}
