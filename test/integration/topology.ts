// A dom0 in a network namespace, wired the way a firewall-VM host is:
//
//   dom0 ns: xapi1 (the private network's bridge) ── vif1.0 ══ eth0 in fw ns (the firewall VM)
//            xenbr0 (management bridge, no physical network: a veth port for carrier),
//            holding the default routes that existed before us. Both bridges are Linux
//            bridges or, as on a default XCP-ng install, Open vSwitch bridges (whose
//            daemons then run in the dom0 namespace).
//   fw ns:   eth0 192.0.2.1/24 + 2001:db8:77::1/64 (the gateway), forwarding on,
//            eth1 198.51.100.1/24 ══ storage ns 198.51.100.10/24 (a server behind the firewall)
//
// Only documentation ranges (RFC 5737, RFC 3849), only inside namespaces made here.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { type BridgeKind, type Bridges, startBridges } from '../helpers/bridges.ts'
import { createNamespace, createVethPair, deleteNamespace, ip, ipJson, namespaceName } from '../helpers/netns.ts'

export const FW4 = '192.0.2.1'
export const FW6 = '2001:db8:77::1'
export const DOM0_4 = '192.0.2.2/24'
export const DOM0_6 = '2001:db8:77::2/64'
export const STORAGE = '198.51.100.10'
export const PREVIOUS4 = { gateway: '203.0.113.1', dev: 'xenbr0', metric: 100 }
export const PREVIOUS6 = { gateway: '2001:db8:ff::1', dev: 'xenbr0', metric: 1024 }

/** apply with everything it can do on this topology. */
export const FULL_APPLY = {
  bridge: 'xapi1',
  addresses: `${DOM0_4},${DOM0_6}`,
  gateway: `${FW4},${FW6}`,
  routes: '192.0.2.200,198.51.100.0/24=192.0.2.1',
  'management-address': '192.0.2.2',
  'management-bridge': 'xenbr0',
  'proxy-arp': 'true',
  forwarding: 'true',
  'gateway-check': '10',
}

export interface Topology {
  dom0: string
  fw: string
  storage: string
  /** Plays the host's `/` for the plugin's state, lock and syslog paths. */
  root: string
  /** dom0's bridges (undefined only while the topology is being built). */
  bridges?: Bridges
}

let counter = 0

async function sysctl(ns: string, key: string, value: string): Promise<void> {
  const result = await execa('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=${value}`], { reject: false })
  if (result.exitCode !== 0) throw new Error(`sysctl ${key}=${value} in ${ns}: ${result.stderr}`)
}

export async function createTopology(kind: BridgeKind = 'linux'): Promise<Topology> {
  const n = ++counter
  const topology: Topology = {
    dom0: namespaceName(`dom0-${n}`),
    fw: namespaceName(`fw-${n}`),
    storage: namespaceName(`sto-${n}`),
    root: mkdtempSync(join(tmpdir(), `vib-int-${process.pid}-`)),
  }
  const { dom0, fw, storage } = topology
  try {
    for (const ns of [dom0, fw, storage]) await createNamespace(ns)
    const bridges = (topology.bridges = await startBridges(dom0, kind))

    await createVethPair({ ns: dom0, name: 'vif1.0' }, { ns: fw, name: 'eth0' })
    await createBridgeAgain(topology)

    await bridges.create('xenbr0')
    // A port gives the management bridge carrier (dummy devices need a module the test
    // machine may lack; a veth pair with both ends at home does the same).
    await ip(dom0, 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', 'mgmt0p')
    await bridges.attach('xenbr0', 'mgmt0')
    await ip(dom0, 'link', 'set', 'mgmt0', 'up')
    await ip(dom0, 'link', 'set', 'mgmt0p', 'up')
    await ip(dom0, 'addr', 'add', '203.0.113.2/24', 'dev', 'xenbr0')
    await ip(dom0, 'addr', 'add', '2001:db8:ff::2/64', 'dev', 'xenbr0', 'nodad')
    await ip(
      dom0,
      'route',
      'add',
      'default',
      'via',
      PREVIOUS4.gateway,
      'dev',
      'xenbr0',
      'metric',
      String(PREVIOUS4.metric),
    )
    await ip(dom0, '-6', 'route', 'add', 'default', 'via', PREVIOUS6.gateway, 'dev', 'xenbr0')

    await ip(fw, 'addr', 'add', `${FW4}/24`, 'dev', 'eth0')
    await ip(fw, 'addr', 'add', `${FW6}/64`, 'dev', 'eth0', 'nodad')
    await createVethPair({ ns: fw, name: 'eth1' }, { ns: storage, name: 'eth0' })
    await ip(fw, 'addr', 'add', '198.51.100.1/24', 'dev', 'eth1')
    await sysctl(fw, 'net.ipv4.ip_forward', '1')
    await ip(storage, 'addr', 'add', `${STORAGE}/24`, 'dev', 'eth0')
    await ip(storage, 'route', 'add', 'default', 'via', '198.51.100.1')
    return topology
  } catch (error) {
    await destroyTopology(topology)
    throw error
  }
}

export async function destroyTopology(topology: Topology): Promise<void> {
  // Open vSwitch's daemons first: a namespace with a process in it outlives its name.
  await topology.bridges?.stop()
  for (const ns of [topology.dom0, topology.fw, topology.storage]) await deleteNamespace(ns)
  rmSync(topology.root, { recursive: true, force: true })
}

export async function withTopology(
  body: (topology: Topology) => Promise<void>,
  kind: BridgeKind = 'linux',
): Promise<void> {
  const topology = await createTopology(kind)
  try {
    await body(topology)
  } finally {
    await destroyTopology(topology)
  }
}

interface AddrInfo {
  family: string
  local: string
  prefixlen: number
  scope: string
}

/** Global-scope addresses of a device, as `a/p` strings, sorted. */
export async function addressesOf(ns: string, dev: string): Promise<string[]> {
  const links = await ipJson<{ addr_info: AddrInfo[] }[]>(ns, 'addr', 'show', 'dev', dev)
  return (links[0]?.addr_info ?? [])
    .filter(a => a.scope === 'global')
    .map(a => `${a.local}/${a.prefixlen}`)
    .sort()
}

export interface RouteJson {
  dst: string
  gateway?: string
  dev?: string
  metric?: number
}

export async function defaultRoutes(ns: string, family: 4 | 6): Promise<RouteJson[]> {
  const routes = await ipJson<RouteJson[]>(ns, family === 4 ? '-4' : '-6', 'route', 'show', 'table', 'main')
  return routes.filter(r => r.dst === 'default').map(({ dst, gateway, dev, metric }) => ({ dst, gateway, dev, metric }))
}

/**
 * Waits until no address in the namespace is tentative: the kernel adds local and
 * multicast routes as link-local addresses finish DAD, changes that are not ours.
 */
export async function settled(ns: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const links = await ipJson<{ addr_info: { tentative?: boolean }[] }[]>(ns, 'addr')
    if (!links.some(l => l.addr_info.some(a => a.tentative))) return
    if (Date.now() > deadline) throw new Error(`addresses in ${ns} still tentative after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/**
 * Addresses and routes as `ip -j` reports them, for before/after comparisons. Link state
 * (operstate, DAD flags, lifetimes) moves on its own and is not something we change.
 */
export async function kernelSnapshot(ns: string) {
  await settled(ns)
  const [links, routes4, routes6] = await Promise.all([
    ipJson<{ ifname: string; addr_info: AddrInfo[] }[]>(ns, 'addr'),
    ipJson<unknown[]>(ns, '-4', 'route', 'show', 'table', 'all'),
    ipJson<unknown[]>(ns, '-6', 'route', 'show', 'table', 'all'),
  ])
  const addresses = links.map(link => ({
    ifname: link.ifname,
    addresses: link.addr_info.map(a => `${a.family} ${a.local}/${a.prefixlen} ${a.scope}`).sort(),
  }))
  return { addresses, routes4, routes6 }
}

export async function ping(ns: string, address: string): Promise<boolean> {
  const family = address.includes(':') ? '-6' : '-4'
  const result = await execa('ip', ['netns', 'exec', ns, 'ping', family, '-n', '-c', '1', '-W', '2', address], {
    reject: false,
  })
  return result.exitCode === 0
}

export async function readSysctl(ns: string, key: string): Promise<string> {
  const result = await execa('ip', ['netns', 'exec', ns, 'sysctl', '-n', key], { reject: false })
  return result.stdout.trim()
}

function bridgesOf(topology: Topology): Bridges {
  if (!topology.bridges) throw new Error(`the bridges of ${topology.dom0} are not started`)
  return topology.bridges
}

/** xapi creates the bridge when the firewall VM's VIF plugs (and again after it went). */
export async function createBridgeAgain(topology: Topology): Promise<void> {
  await bridgesOf(topology).create('xapi1')
  await bridgesOf(topology).attach('xapi1', 'vif1.0')
}

/** xapi destroys a PIF-less bridge with its last VIF: `ip link del` or `ovs-vsctl del-br`. */
export async function destroyBridge(topology: Topology): Promise<void> {
  await bridgesOf(topology).destroy('xapi1')
}

/** What the kernel says a bridge's interface is: `bridge`, or `tun` for an Open vSwitch netdev bridge. */
export async function bridgeDeviceKind(ns: string, dev: string): Promise<string | undefined> {
  const links = await ipJson<{ linkinfo?: { info_kind?: string } }[]>(ns, '-d', 'link', 'show', 'dev', dev)
  return links[0]?.linkinfo?.info_kind
}
