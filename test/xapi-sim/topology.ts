// The kernel side of a scenario: one namespace per host playing its dom0 (PIF bridges and
// NICs), one per VM playing the guest, one per external (storage servers...), a "void"
// namespace holding the far end of NICs with nothing plugged in, and a root directory per
// host standing for its `/`. A host's bridges are Linux bridges or Open vSwitch ones (its
// daemons then run in the host's namespace). Everything created is recorded so teardown
// removes exactly it.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BridgeKind, type Bridges, linuxBridges, startBridges } from '../helpers/bridges.ts'
import { createNamespace, deleteNamespace, namespaceName } from '../helpers/netns.ts'
import { ipIn, namespacePids, sysctl, startTcpListener, type TcpListener, prefixLength } from './netns-tools.ts'
import type { ExternalDefinition, GuestDefinition, PifDefinition, RouteDefinition } from './scenario.ts'
import type { SimHost } from './simulator.ts'

export const TEMP_PREFIX = 'vib-sim-'

export interface HostRuntime extends SimHost {
  nextDomid: number
}

export interface VmRuntime {
  ref: string
  uuid: string
  name: string
  netns: string
  guest: GuestDefinition
}

export interface ExternalRuntime {
  name: string
  netns: string
  bridge: string
}

let instances = 0

function tag(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 24) || 'x'
  )
}

export class World {
  readonly instance = ++instances
  baseDir = ''
  private namespaces: string[] = []
  private listeners: TcpListener[] = []
  private voidNs = ''
  private voidCount = 0
  private hostBridges = new Map<string, Bridges>()
  bridgeKind: BridgeKind = 'linux'

  async init(options: { bridges?: BridgeKind } = {}): Promise<void> {
    this.bridgeKind = options.bridges ?? 'linux'
    // The pid in the name lets a later run sweep what a crashed one left.
    this.baseDir = await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`))
    this.voidNs = await this.namespace('void')
  }

  nsName(kind: string): string {
    return namespaceName(`sim${this.instance}-${tag(kind)}`)
  }

  private async namespace(kind: string): Promise<string> {
    const name = this.nsName(kind)
    this.namespaces.push(name)
    await createNamespace(name)
    return name
  }

  async createHostRoot(name: string): Promise<{ root: string; socketPath: string }> {
    const root = join(this.baseDir, tag(name))
    for (const dir of ['etc/xapi.d/plugins', 'var/lib/xcp', 'var/run', 'var/log', 'dev', 'tmp']) {
      await mkdir(join(root, dir), { recursive: true })
    }
    return { root, socketPath: join(root, 'var/lib/xcp/xapi') }
  }

  /** dom0 records its host's UUID at installation; host-side code reads it from here. */
  async writeInventory(root: string, hostUuid: string): Promise<void> {
    await writeFile(join(root, 'etc/xensource-inventory'), `PRODUCT_BRAND='XCP-ng'\nINSTALLATION_UUID='${hostUuid}'\n`)
  }

  async createHostNamespace(name: string): Promise<string> {
    const ns = await this.namespace(`h-${name}`)
    this.hostBridges.set(ns, await startBridges(ns, this.bridgeKind))
    return ns
  }

  /** The bridges of the host whose dom0 namespace is `ns`. */
  bridges(ns: string): Bridges {
    const bridges = this.hostBridges.get(ns)
    if (!bridges) throw new Error(`${ns} is not a host namespace`)
    return bridges
  }

  /** A NIC of a host: cabled to an external segment, or to nothing (no carrier). */
  async createPif(
    hostNs: string,
    hostIndex: number,
    bridge: string,
    pif: PifDefinition,
    external?: ExternalRuntime,
  ): Promise<void> {
    const peerNs = external?.netns ?? this.voidNs
    const peer = external ? `h${hostIndex}${pif.device}`.slice(0, 15) : `v${++this.voidCount}`
    await ipIn(hostNs, 'link', 'add', pif.device, 'type', 'veth', 'peer', 'name', peer, 'netns', peerNs)
    await this.bridges(hostNs).attach(bridge, pif.device)
    await ipIn(hostNs, 'link', 'set', pif.device, 'up')
    if (external) {
      await ipIn(peerNs, 'link', 'set', peer, 'master', external.bridge)
      await ipIn(peerNs, 'link', 'set', peer, 'up')
    }
  }

  async configureAddress(ns: string, dev: string, ip: string, netmask: string): Promise<void> {
    await ipIn(ns, 'addr', 'add', `${ip}/${prefixLength(netmask)}`, 'dev', dev)
  }

  async createExternal(def: ExternalDefinition): Promise<ExternalRuntime> {
    const netns = await this.namespace(`x-${def.name}`)
    const bridge = def.bridge ?? 'lan'
    await linuxBridges(netns).create(bridge)
    for (const address of def.addresses ?? []) await ipIn(netns, 'addr', 'add', address, 'dev', bridge)
    await applyRoutes(netns, def.routes ?? [], bridge)
    if (def.forwarding) await enableForwarding(netns)
    if (def.listen?.length) this.listeners.push(await startTcpListener(netns, def.listen))
    return { name: def.name, netns, bridge }
  }

  async createVmNamespace(name: string, guest: GuestDefinition): Promise<string> {
    const netns = await this.namespace(`vm-${name}`)
    if (guest.forwarding) await enableForwarding(netns)
    if (guest.listen?.length) this.listeners.push(await startTcpListener(netns, guest.listen))
    return netns
  }

  /** Removes everything this world created; safe to call twice. */
  async destroy(): Promise<void> {
    await Promise.all(this.listeners.splice(0).map(l => l.stop().catch(() => undefined)))
    const bridges = [...this.hostBridges.values()]
    this.hostBridges.clear()
    await Promise.all(bridges.map(b => b.stop().catch(() => undefined)))
    for (const ns of this.namespaces.splice(0).reverse()) {
      for (const pid of await namespacePids(ns)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      await deleteNamespace(ns)
    }
    if (this.baseDir) await rm(this.baseDir, { recursive: true, force: true })
  }
}

export async function enableForwarding(ns: string): Promise<void> {
  await sysctl(ns, 'net.ipv4.ip_forward', '1')
  await sysctl(ns, 'net.ipv6.conf.all.forwarding', '1').catch(() => undefined)
}

/** `ip route replace`, so re-applying after an interface came back is harmless. */
export async function applyRoutes(ns: string, routes: RouteDefinition[], defaultDev?: string): Promise<void> {
  for (const r of routes) {
    const args = ['route', 'replace', r.to]
    if (r.via) args.push('via', r.via)
    const dev = r.dev ?? (r.via ? undefined : defaultDev)
    if (dev) args.push('dev', dev)
    await ipIn(ns, ...args)
  }
}
