// End-to-end harness: a simulated firewall pool, the xen-api-backed XO facade connected
// to it, and the XO plugin loaded through the facade, as xo-server would load it. Plus
// observations of the simulated hosts' kernels (`ip -j` inside their namespaces, pings).

import factory from '../../xo-plugin/index.ts'
import type { VifIpBinderPlugin } from '../../xo-plugin/plugin.ts'
import type { BindingConfig } from '../../shared/binding.ts'
import { ipJson, runIn } from '../helpers/netns.ts'
import { FIREWALL_POOL } from '../xapi-sim/scenarios/firewall-pool.ts'
import { type Simulator, type StartOptions, startSimulator } from '../xapi-sim/simulator.ts'
import { PluginHost, type PluginFactory, XoFacade, withoutEventCutWarning } from '../xo-facade/facade.ts'

export { FIREWALL_POOL }

export interface Harness {
  sim: Simulator
  xo: XoFacade
  plugin: PluginHost<VifIpBinderPlugin>
  binding: BindingConfig
  /** Each host's address → its own xapi endpoint, as seen from the LAN (where Xen Orchestra sits). */
  hostUrls: Record<string, string>
  close(): Promise<void>
}

/**
 * Xen Orchestra confirms a change through a new connection to the host's address: in tests
 * that is the host's own endpoint in the simulator, reachable only while the LAN reaches the
 * host (never the address itself, which exists only inside the namespaces).
 */
export async function hostEndpoints(sim: Simulator): Promise<Record<string, string>> {
  const urls: Record<string, string> = {}
  for (const { name } of sim.describe().hosts) {
    urls[sim.record('host', name).address as string] = await sim.listenAsHost(name, 'nfs')
  }
  return urls
}

/** The binding of the quick start: dom0 of the host running the firewall gets 10.77.0.2/24 via 10.77.0.1. */
export function firewallBinding(sim: Simulator): BindingConfig {
  return {
    vm: sim.vm(FIREWALL_POOL.firewallVm).uuid,
    network: FIREWALL_POOL.privateNetwork,
    addresses: [`${FIREWALL_POOL.hostAddresses[0]}/24`],
    gateways: [FIREWALL_POOL.firewallPrivateAddress],
    managementAddress: FIREWALL_POOL.hostAddresses[0],
  }
}

export async function startHarness(
  options: Partial<StartOptions> = {},
  pluginFactory: PluginFactory = factory as unknown as PluginFactory,
): Promise<Harness> {
  const sim = await startSimulator({ scenario: 'firewall-pool', ...options })
  const xo = new XoFacade()
  let plugin: PluginHost<VifIpBinderPlugin> | undefined
  const close = async () => {
    await plugin?.unload().catch(() => undefined)
    await withoutEventCutWarning(async () => {
      await xo.disconnectAll().catch(() => undefined)
      await sim.stop()
      await new Promise(resolve => setTimeout(resolve, 100))
    })
  }
  try {
    const { url, user, password } = sim.describe()
    await xo.connectServer('firewall-pool', { url, user, password })
    const hostUrls = await hostEndpoints(sim)
    plugin = new PluginHost<VifIpBinderPlugin>(pluginFactory, xo, 'vif-ip-binder', { hostUrls })
    return { sim, xo, plugin, binding: firewallBinding(sim), hostUrls, close }
  } catch (error) {
    await close()
    throw error
  }
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

interface IpAddr {
  ifname: string
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[]
}

/** Global addresses per interface in a namespace: `{ xapi0: ['10.77.0.2/24'], … }`. */
export async function addresses(ns: string): Promise<Record<string, string[]>> {
  const links = await ipJson<IpAddr[]>(ns, 'addr', 'show')
  return Object.fromEntries(
    links.map(l => [
      l.ifname,
      l.addr_info.filter(a => a.scope !== 'link' && a.scope !== 'host').map(a => `${a.local}/${a.prefixlen}`),
    ]),
  )
}

/** The IPv4 default route as `via <gw> dev <dev>`, or 'none'. */
export async function defaultRoute(ns: string): Promise<string> {
  const routes = await ipJson<{ dst: string; gateway?: string; dev: string }[]>(ns, 'route', 'show', 'default')
  const route = routes[0]
  return route ? `via ${route.gateway ?? '-'} dev ${route.dev}` : 'none'
}

export async function pings(ns: string, address: string): Promise<boolean> {
  const result = await runIn(ns, 'ping', ['-c', '1', '-W', '1', address], { timeoutMs: 3000 })
  return result.exitCode === 0
}

export function poolCopy(sim: Simulator): string | undefined {
  return (sim.poolRecord().other_config as Record<string, string>)['vif-ip-binder']
}

/** The NFS SR of the scenario, as a binding's `srs` item names it. */
export function nfsSr(sim: Simulator): { sr: string } {
  return { sr: sim.record('SR', FIREWALL_POOL.srName).uuid as string }
}

/** Whether the NFS SR's PBD on a host is attached, in the simulator's xapi records. */
export function nfsAttached(sim: Simulator, host: string): boolean {
  const pbd = sim.pbds(FIREWALL_POOL.srName)[host]
  if (!pbd) throw new Error(`the NFS SR has no PBD on ${host}`)
  return sim.record('PBD', pbd).currently_attached === true
}
