// What a scenario describes: the pool's objects and the kernel world around them. The
// simulator turns it into records (model.ts) and namespaces (topology.ts).

import type { User } from './sessions.ts'

export interface ScenarioDefinition {
  name: string
  pool?: { name_label?: string; other_config?: Record<string, string> }
  /** Accounts for session.login_with_password over TCP. Default: root / "sim-password". */
  users?: User[]
  /** The first host is the pool master. */
  hosts: HostDefinition[]
  /** Namespaces outside the pool (storage servers, upstream routers) reachable over PIFs. */
  externals?: ExternalDefinition[]
  networks: NetworkDefinition[]
  vms?: VmDefinition[]
  srs?: SrDefinition[]
}

export interface HostDefinition {
  name: string
  /** host.address (the management IP xapi hands out for consoles). */
  address: string
  /** Boot the host disabled (as xapi leaves it until its startup re-enables it). */
  enabled?: boolean
  other_config?: Record<string, string>
}

export interface RouteDefinition {
  /** "default" or a CIDR. */
  to: string
  via?: string
  dev?: string
}

export interface ExternalDefinition {
  name: string
  /** The L2 segment host PIFs join (a Linux bridge inside this namespace). Default "lan". */
  bridge?: string
  /** Addresses on that bridge. */
  addresses?: string[]
  routes?: RouteDefinition[]
  forwarding?: boolean
  /** TCP ports that accept connections (e.g. 2049 for an NFS server). */
  listen?: number[]
}

export interface PifDefinition {
  /** dom0 device name, e.g. eth0. */
  device: string
  management?: boolean
  /** External whose segment this NIC is cabled to; absent: no link partner (no carrier). */
  connectTo?: string
  ip_configuration_mode?: 'None' | 'Static' | 'DHCP'
  /** For Static PIFs: "host-address" (the host's address) or a literal. */
  IP?: string
  netmask?: string
  gateway?: string
  /** Put the PIF's IP on the bridge inside the host namespace (default false: "dom0 has no network"). */
  configureInDom0?: boolean
}

export interface NetworkDefinition {
  name: string
  /** Default: xenbrN for networks with a PIF, xapiN for PIF-less ones. */
  bridge?: string
  other_config?: Record<string, string>
  /** A NIC per host; without it the network is a PIF-less private network. */
  pif?: PifDefinition
}

export interface VifDefinition {
  network: string
  device?: string
  MAC?: string
  other_config?: Record<string, string>
}

export interface GuestDefinition {
  /** Addresses (CIDR) per VIF device, put on eth<device> inside the VM's namespace when it plugs. */
  addresses?: Record<string, string[]>
  routes?: RouteDefinition[]
  forwarding?: boolean
  listen?: number[]
}

export interface VmDefinition {
  name: string
  vifs?: VifDefinition[]
  /** Host to prefer (VM.affinity) and to start on at boot. */
  affinity?: string
  /** Start it while the simulator boots. */
  running?: boolean
  other_config?: Record<string, string>
  guest?: GuestDefinition
  /** Virtual disks (a VDI on the named SR, plugged through a VBD); xapi starts the VM only where each SR is attached. */
  disks?: { sr: string; type?: 'Disk' | 'CD' }[]
  order?: number
  start_delay?: number
}

export interface SrDefinition {
  name: string
  /** nfs (port 2049), smb/cifs (445), lvmoiscsi/iscsi (3260). */
  type: 'nfs' | 'smb' | 'cifs' | 'iso' | 'lvmoiscsi' | 'iscsi'
  device_config: Record<string, string>
  shared?: boolean
  /** Try PBD.plug on every host at boot (failures leave it unplugged). */
  plugAtBoot?: boolean
  other_config?: Record<string, string>
}

export const DEFAULT_USERS: User[] = [{ user: 'root', password: 'sim-password' }]
