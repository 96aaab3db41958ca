// What xo-web's plugin page renders: the configuration form, its presets, and the Test
// form. xo-web's form generator renders only type, title, description (Markdown),
// default, enum/enumNames, required, properties and items, plus `$type` object pickers;
// other keywords (minItems, pattern, oneOf…) would be validated by xo-server's ajv with
// messages that name no binding, so `configure` checks those things itself.

import { DEFAULT_CONFIRM_SECONDS, bindingSchema } from '../shared/binding.ts'
import { MAX_CONFIRM_SECONDS } from '../shared/results.ts'
import { DEFAULT_GATEWAY_CHECK_SECONDS, MAX_GATEWAY_CHECK_SECONDS } from '../shared/plugin-args.ts'

export const configurationSchema = {
  type: 'object',
  title: 'vif-ip-binder',
  description: [
    'Keeps dom0 reachable on hosts whose physical NICs all belong to a **firewall VM**.',
    '',
    'Each binding says: *while this VM runs with its VIF on this network plugged, the host it runs on gets these addresses, this gateway and these routes on that network.* When the VM stops or migrates away, the host gets its previous state back.',
    '',
    'Every host of the pool needs the host plugin: `yum install vif-ip-binder-<version>-1.x86_64.rpm` on each host, from the same release as this plugin (see the README). **Test** checks each host and compares what is applied with this configuration; its full report is the task *vif-ip-binder: Test* under *XO tasks* on the Tasks page.',
  ].join('\n'),
  properties: {
    bindings: {
      type: 'array',
      title: 'Bindings',
      description: 'One entry per firewall VM and network. An address may be claimed by one binding only.',
      items: bindingSchema,
    },
    gatewayCheckSeconds: {
      type: 'integer',
      title: 'Gateway check (seconds)',
      description: `After switching dom0's default route to a binding's gateway, how long to wait for the gateway to answer before restoring the previous route (0 = do not check, at most ${MAX_GATEWAY_CHECK_SECONDS}).`,
      default: DEFAULT_GATEWAY_CHECK_SECONDS,
    },
    confirmSeconds: {
      type: 'integer',
      title: 'Confirm a change within (seconds)',
      description: `When a saved configuration changes a host's binding, the host applies it **with a confirmation window**: Xen Orchestra then confirms it through a **new connection** to that host's address. A change that cuts the host off from Xen Orchestra cannot be confirmed, and the host puts its previous state back by itself when the window ends; **Test** says which host reverted and why. 0 = apply without a window (at most ${MAX_CONFIRM_SECONDS}).`,
      default: DEFAULT_CONFIRM_SECONDS,
    },
    rescue: {
      type: 'boolean',
      title: 'Rescue a host that boots disabled',
      description: [
        'A host that comes up **disabled** starts no VM, not even the firewall its own network depends on, and Xen Orchestra cannot reach it to help.',
        '',
        "When on, such a host first reads **why** it is disabled, and enables itself only when xapi itself would have once its network came back: never a host disabled on purpose (automatic re-enable off, as `xe host-disable auto-enable=false` and Xen Orchestra's REST API disable request it, or `MAINTENANCE_MODE`), one with pending mandatory update guidances, or one HA keeps disabled because an SR failed. It then starts the bound firewall VMs first, then the VMs marked for auto-start whose storage is attached, in their **start order**. Its result says which case applied.",
      ].join('\n'),
      default: false,
    },
    autoStart: {
      type: 'boolean',
      title: 'Start the VMs that late storage held back',
      description:
        'xapi auto-starts `auto_poweron` VMs once, early, while the firewall still boots: VMs on NFS, SMB or iSCSI fail and nothing retries. When on, a host that re-attaches an SR starts its halted `auto_poweron` VMs (pool and VM `other_config:auto_poweron=true`, as xapi reads them) in **start order** with their **start delay**, once per boot, never one an admin stopped since the host booted.',
      default: true,
    },
    fixVifChecksum: {
      type: 'boolean',
      title: "Turn TX checksum offload off on the firewall's VIFs",
      description:
        "pfSense and OPNsense on Xen need TX checksum offload off on their VIFs, or traffic between dom0 and the firewall fails in subtle ways (XCP-ng's pfSense guide calls it the most important step). When on, Xen Orchestra sets `other-config:ethtool-tx=off` on each bound VM's VIF on the bound network, as `xe vif-param-set uuid=… other-config:ethtool-tx=\"off\"` does. It takes effect at the VIF's **next plug** (restart the firewall VM). **Test** flags a VIF without it either way.",
      default: false,
    },
  },
  required: ['bindings'],
} as const

// Presets name nothing the pool may not have: the firewall VM is picked, and the network,
// left empty, is the VM's one private network.
export const configurationPresets = {
  'Firewall VM on a private network (IPv4)': {
    bindings: [
      { addresses: ['192.168.1.2/24'], gateways: ['192.168.1.1'], routes: [], proxyArp: false, forwarding: false },
    ],
    gatewayCheckSeconds: DEFAULT_GATEWAY_CHECK_SECONDS,
  },
  'Firewall VM on a private network (IPv4 + IPv6, management mirror)': {
    bindings: [
      {
        addresses: ['192.168.1.2/24', '2001:db8:1::2/64'],
        gateways: ['192.168.1.1', '2001:db8:1::1'],
        routes: [],
        managementAddress: '192.168.1.2',
        proxyArp: false,
        forwarding: false,
      },
    ],
    gatewayCheckSeconds: DEFAULT_GATEWAY_CHECK_SECONDS,
  },
}

// No testSchema: with one, xo-server refuses the Test button's request while the form is
// untouched (xo-web then sends no data). `plugin.test` with `{ binding: n }` tests one.

/** Keywords xo-web renders; a test holds the schema to them. */
export const RENDERED_KEYWORDS = new Set([
  'type',
  'title',
  'description',
  'default',
  'enum',
  'enumNames',
  'required',
  'properties',
  'items',
  '$type',
])
