// The bridges of a test host's dom0, of either kind XCP-ng uses: Linux bridges
// (network.conf = bridge) or Open vSwitch (network.conf = openvswitch, the default). The
// same operations, done the way xcp-networkd and xapi's vif script do them on each.

import { execa } from 'execa'
import { type Ovs, startOvs } from './ovs.ts'

export type BridgeKind = 'linux' | 'ovs'
export const BRIDGE_KINDS: readonly BridgeKind[] = ['linux', 'ovs']
export const BRIDGE_LABELS: Record<BridgeKind, string> = { linux: 'Linux bridges', ovs: 'OVS bridges' }

export function parseBridgeKind(text: string): BridgeKind {
  if (!(BRIDGE_KINDS as string[]).includes(text))
    throw new Error(`bridges: "${text}" is neither ${BRIDGE_KINDS.join(' nor ')}`)
  return text as BridgeKind
}

export interface Bridges {
  readonly kind: BridgeKind
  /** Open vSwitch's database, as `ovs-vsctl --db=` takes it. */
  readonly db?: string
  /** Creates a bridge and brings its interface up. */
  create(bridge: string): Promise<void>
  /** Destroys a bridge (the kernel drops its addresses and routes). */
  destroy(bridge: string): Promise<void>
  /** Makes an existing interface a port of the bridge. */
  attach(bridge: string, port: string): Promise<void>
  /** Forgets a port whose interface is gone. */
  forget(port: string): Promise<void>
  ports(bridge: string): Promise<string[]>
  list(): Promise<string[]>
  /** Stops what runs the bridges (Open vSwitch's daemons). */
  stop(): Promise<void>
}

async function ipIn(ns: string, ...args: string[]): Promise<string> {
  const result = await execa('ip', ['-n', ns, ...args], { reject: false, stdin: 'ignore' })
  if (result.exitCode !== 0) throw new Error(`ip -n ${ns} ${args.join(' ')}: ${result.stderr.trim()}`)
  return result.stdout
}

const lines = (text: string) => text.split('\n').filter(Boolean)

export function linuxBridges(ns: string): Bridges {
  const namesOf = async (...filter: string[]) =>
    (JSON.parse((await ipIn(ns, '-j', 'link', 'show', ...filter)) || '[]') as { ifname: string }[]).map(l => l.ifname)
  return {
    kind: 'linux',
    async create(bridge) {
      await ipIn(ns, 'link', 'add', bridge, 'type', 'bridge')
      await ipIn(ns, 'link', 'set', bridge, 'up')
    },
    destroy: async bridge => void (await ipIn(ns, 'link', 'del', bridge)),
    attach: async (bridge, port) => void (await ipIn(ns, 'link', 'set', port, 'master', bridge)),
    // The kernel takes a port out of its bridge when the interface goes.
    forget: async () => undefined,
    ports: bridge => namesOf('master', bridge),
    list: () => namesOf('type', 'bridge'),
    stop: async () => undefined,
  }
}

function ovsBridges(ns: string, ovs: Ovs): Bridges {
  return {
    kind: 'ovs',
    db: ovs.db,
    async create(bridge) {
      await ovs.vsctl('add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev')
      await ipIn(ns, 'link', 'set', bridge, 'up')
    },
    destroy: async bridge => void (await ovs.vsctl('del-br', bridge)),
    attach: async (bridge, port) => void (await ovs.vsctl('add-port', bridge, port)),
    forget: async port => void (await ovs.vsctl('--if-exists', 'del-port', port)),
    ports: async bridge => lines(await ovs.vsctl('list-ports', bridge)),
    list: async () => lines(await ovs.vsctl('list-br')),
    stop: () => ovs.stop(),
  }
}

/** The bridges of the dom0 playing namespace `ns`; for OVS, starts its daemons there. */
export async function startBridges(ns: string, kind: BridgeKind): Promise<Bridges> {
  return kind === 'ovs' ? ovsBridges(ns, await startOvs(ns)) : linuxBridges(ns)
}
