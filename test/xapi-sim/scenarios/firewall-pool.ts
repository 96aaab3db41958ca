// The product's reference situation: two hosts whose dom0s have no physical network; a
// firewall VM with one VIF on a PIF-less private network (dom0's only way out) and one on
// the LAN, where an NFS server lives. dom0 reaches the NFS server only through the
// firewall, once it runs and routes:
//
//   dom0 (10.77.0.2 on xapi0, default via 10.77.0.1)
//     └─ xapi0 ── firewall eth0 10.77.0.1 │ forwarding │ eth1 10.78.0.1 ── xenbr1 ── eth1 ── nfs 10.78.0.10:2049
//
// Addresses are private ranges that only ever exist inside the simulator's namespaces.

import type { ScenarioDefinition } from '../scenario.ts'

export const FIREWALL_POOL = {
  privateNetwork: 'Private dom0 link',
  lanNetwork: 'LAN',
  managementNetwork: 'Pool-wide network associated with eth0',
  privateBridge: 'xapi0',
  firewallVm: 'firewall',
  firewallPrivateAddress: '10.77.0.1',
  firewallLanAddress: '10.78.0.1',
  nfsServer: '10.78.0.10',
  hostAddresses: ['10.77.0.2', '10.77.0.3'],
  srName: 'NFS storage',
} as const

export function firewallPool(options: { firewallRunning?: boolean; hostsEnabled?: boolean } = {}): ScenarioDefinition {
  const f = FIREWALL_POOL
  return {
    name: 'firewall-pool',
    pool: { name_label: 'Firewall pool' },
    hosts: [
      { name: 'host1', address: f.hostAddresses[0], enabled: options.hostsEnabled ?? true },
      { name: 'host2', address: f.hostAddresses[1], enabled: options.hostsEnabled ?? true },
    ],
    externals: [
      {
        name: 'nfs',
        bridge: 'lan',
        addresses: [`${f.nfsServer}/24`],
        routes: [{ to: '10.77.0.0/24', via: f.firewallLanAddress }],
        listen: [2049],
      },
    ],
    networks: [
      {
        name: f.managementNetwork,
        // The NIC is passed through to the firewall: dom0 keeps a management PIF with no carrier.
        pif: {
          device: 'eth0',
          management: true,
          ip_configuration_mode: 'Static',
          IP: 'host-address',
          netmask: '255.255.255.0',
          gateway: f.firewallPrivateAddress,
        },
      },
      { name: f.lanNetwork, pif: { device: 'eth1', connectTo: 'nfs' } },
      { name: f.privateNetwork, bridge: f.privateBridge },
    ],
    vms: [
      {
        name: f.firewallVm,
        affinity: 'host1',
        running: options.firewallRunning ?? false,
        vifs: [
          { network: f.privateNetwork, device: '0' },
          { network: f.lanNetwork, device: '1' },
        ],
        guest: {
          addresses: { '0': [`${f.firewallPrivateAddress}/24`], '1': [`${f.firewallLanAddress}/24`] },
          forwarding: true,
        },
      },
    ],
    srs: [
      {
        name: f.srName,
        type: 'nfs',
        device_config: { server: f.nfsServer, serverpath: '/export/vms' },
        shared: true,
      },
    ],
  }
}
