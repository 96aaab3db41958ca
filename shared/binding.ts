// The binding model: "when this VM's VIF on this network is plugged, the host it runs on
// gets these addresses, gateways and routes on that network's bridge".
//
// Three forms: the admin's form (XO settings page, `BindingConfig`, network by UUID or
// name), the parsed form (`Binding`, every address parsed exactly as the host plugin will
// parse it), and the pool form (`PoolConfig`, JSON in pool.other_config["vif-ip-binder"],
// network resolved to its UUID) that the host-side trigger reads without XO.

import { type Cidr, type Family, cidrText } from './addresses.ts'
import { BinderError, invalidArgument } from './errors.ts'
import {
  type ApplyRequest,
  type Gateway,
  type PluginArgs,
  type RouteSpec,
  DEFAULT_GATEWAY_CHECK_SECONDS,
  MAX_GATEWAY_CHECK_SECONDS,
  encodeApplyArgs,
  parseApplyArgs,
  parseUuid,
  routeText,
} from './plugin-args.ts'
import { parseProbe, probeText } from './probes.ts'
import { isUuid } from './xapi-ids.ts'
import { MAX_CONFIRM_SECONDS } from './results.ts'

export interface SrConfig {
  sr: string
  probe?: string
}

/** One binding as the admin types it on XO's plugin page. */
export interface BindingConfig {
  vm: string
  /** Network UUID or exact name label; empty: the VM's one network without PIF. */
  network?: string
  addresses: string[]
  gateways?: string[]
  /** `dest` (on-link through the bridge) or `dest=via`. */
  routes?: string[]
  managementAddress?: string
  proxyArp?: boolean
  forwarding?: boolean
  /** SRs picked on the settings page (UUIDs), each probed with `storageProbe` or its default. */
  storage?: string[]
  storageProbe?: string
  /** Earlier form of the same, one probe per SR: still read. */
  srs?: SrConfig[]
}

export interface PluginConfig {
  bindings: BindingConfig[]
  gatewayCheckSeconds?: number
  /** Let a host that booted disabled enable itself and start the bound VMs first. */
  rescue?: boolean
  /** Start the auto_poweron VMs that storage held back once plug-srs attaches their SRs (default on). */
  autoStart?: boolean
  /** Xen Orchestra sets other-config:ethtool-tx=off on the bound firewall VIFs (default off). */
  fixVifChecksum?: boolean
  /** A change from a new configuration reverts on its host unless confirmed within this many seconds (0: off). */
  confirmSeconds?: number
}

export interface Binding {
  vm: string
  network: string
  addresses: Cidr[]
  gateways: Gateway[]
  routes: RouteSpec[]
  managementAddress?: { address: string; family: Family }
  proxyArp: boolean
  forwarding: boolean
  srs: SrConfig[]
}

/** How a binding is named in messages: its place in the list and what it binds. */
export function bindingLabel(index: number, binding: Pick<BindingConfig, 'vm' | 'network'>): string {
  const network = binding.network ? `, network ${JSON.stringify(binding.network)}` : ''
  return `binding ${index + 1} (VM ${JSON.stringify(binding.vm ?? '')}${network})`
}

// The host plugin's argument names differ from the settings page's field names; messages
// must use the names the admin sees.
const FIELD_NAMES: [string, string][] = [
  ['management-address:', 'managementAddress:'],
  ['gateway:', 'gateways:'],
  ['apply: ', ''],
]

function renameField(message: string): string {
  for (const [hostName, xoName] of FIELD_NAMES)
    if (message.startsWith(hostName)) return xoName + message.slice(hostName.length)
  return message
}

function stringList(value: unknown, what: string, label: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw invalidArgument(`${label}: ${what} must be a list`, what)
  return value.map(item => {
    if (typeof item !== 'string' || item.trim() === '') {
      throw invalidArgument(`${label}: ${what}: ${JSON.stringify(item)} is not a non-empty text`, String(item))
    }
    // The host plugin receives lists comma-joined: a comma inside one item would silently
    // become two items there.
    if (item.includes(','))
      throw invalidArgument(`${label}: ${what}: ${JSON.stringify(item)} holds a comma: put one value per item`, item)
    return item.trim()
  })
}

function booleanField(value: unknown, what: string, label: string): boolean {
  if (value === undefined || value === null) return false
  if (typeof value !== 'boolean')
    throw invalidArgument(`${label}: ${what}: ${JSON.stringify(value)} is not true or false`, String(value))
  return value
}

// Placeholders that parseApplyArgs accepts: the real bridges are known only when the VM runs.
const PLACEHOLDER_BRIDGE = 'vib-bound'
const PLACEHOLDER_MANAGEMENT_BRIDGE = 'vib-management'

/**
 * Parses one binding with the host plugin's own parser (addresses, gateways, routes,
 * management address), so XO accepts exactly what the host will accept. Every rejection
 * names the binding and the offending value.
 */
export function parseBinding(config: BindingConfig, index: number): Binding {
  const label = bindingLabel(index, config)
  if (typeof config !== 'object' || config === null) throw invalidArgument(`binding ${index + 1} is not an object`)
  if (typeof config.vm !== 'string' || config.vm.trim() === '') throw invalidArgument(`${label}: vm is required`, 'vm')
  if (config.network !== undefined && config.network !== null && typeof config.network !== 'string') {
    throw invalidArgument(`${label}: network must be a text (a UUID or an exact name)`, 'network')
  }
  const addresses = stringList(config.addresses, 'addresses', label)
  if (addresses.length === 0)
    throw invalidArgument(
      `${label}: addresses needs at least one address with its prefix (e.g. 192.0.2.2/24)`,
      'addresses',
    )
  const gateways = stringList(config.gateways, 'gateways', label)
  const routes = stringList(config.routes, 'routes', label)
  const managementAddress = config.managementAddress?.trim() || undefined

  const args: PluginArgs = { bridge: PLACEHOLDER_BRIDGE, addresses: addresses.join(',') }
  if (gateways.length) args.gateway = gateways.join(',')
  if (routes.length) args.routes = routes.join(',')
  if (managementAddress) {
    args['management-address'] = managementAddress
    args['management-bridge'] = PLACEHOLDER_MANAGEMENT_BRIDGE
  }
  let request: ApplyRequest
  try {
    request = parseApplyArgs(args)
  } catch (error) {
    if (error instanceof BinderError)
      throw new BinderError(error.code, `${label}: ${renameField(error.message)}`, error.details)
    throw error
  }

  const srs = parseSrs(config, label)

  return {
    vm: config.vm.trim(),
    network: config.network?.trim() ?? '',
    addresses: request.addresses,
    gateways: request.gateways,
    routes: request.routes,
    managementAddress: request.management
      ? { address: request.management.address, family: request.management.family }
      : undefined,
    proxyArp: booleanField(config.proxyArp, 'proxyArp', label),
    forwarding: booleanField(config.forwarding, 'forwarding', label),
    srs,
  }
}

function parseSr(sr: SrConfig, what: string, label: string): SrConfig {
  if (typeof sr !== 'object' || sr === null || typeof sr.sr !== 'string' || sr.sr.trim() === '')
    throw invalidArgument(`${label}: ${what} needs an SR`, 'srs')
  if (sr.probe !== undefined && sr.probe !== null && typeof sr.probe !== 'string')
    throw invalidArgument(`${label}: ${what}: probe must be a text`, 'probe')
  const probe = sr.probe?.trim()
  try {
    const uuid = parseUuid(sr.sr.trim(), 'srs')
    if (!probe) return { sr: uuid }
    if (probe.includes(',')) throw invalidArgument(`probe: ${JSON.stringify(probe)} holds a comma`, probe)
    return { sr: uuid, probe: probeText(parseProbe(probe, 'probe')) }
  } catch (error) {
    if (error instanceof BinderError)
      throw new BinderError(error.code, `${label}: ${what}: ${error.message}`, error.details)
    throw error
  }
}

/** Checked as the host plugin's plug-srs will read them: SR UUIDs, probes in its syntax. */
function parseSrs(config: BindingConfig, label: string): SrConfig[] {
  if (config.srs !== undefined && config.srs !== null && !Array.isArray(config.srs))
    throw invalidArgument(`${label}: srs must be a list`, 'srs')
  const storage = stringList(config.storage, 'storage', label)
  if (config.storageProbe !== undefined && config.storageProbe !== null && typeof config.storageProbe !== 'string') {
    throw invalidArgument(`${label}: storageProbe must be a text`, 'storageProbe')
  }
  const probe = config.storageProbe?.trim() || undefined
  const srs = [
    ...(config.srs ?? []).map((sr, i) => parseSr(sr, `srs item ${i + 1}`, label)),
    ...storage.map(sr => parseSr({ sr, probe }, 'storage', label)),
  ]
  const seen = new Set<string>()
  for (const { sr } of srs) {
    if (seen.has(sr)) throw invalidArgument(`${label}: SR ${sr} is listed twice in srs`, sr)
    seen.add(sr)
  }
  return srs
}

function parseSecondsField(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw invalidArgument(
      `${name}: ${JSON.stringify(value)} is not a whole number of seconds from 0 to ${max}`,
      String(value),
    )
  }
  return value
}

export function parseGatewayCheckSeconds(value: unknown): number {
  return parseSecondsField(value, 'gatewayCheckSeconds', DEFAULT_GATEWAY_CHECK_SECONDS, MAX_GATEWAY_CHECK_SECONDS)
}

/** Xen Orchestra's confirmation window for changes it makes from a new configuration. */
export const DEFAULT_CONFIRM_SECONDS = 60

/**
 * Checks what can be checked without a pool: each binding parses, no address is claimed
 * twice (two hosts answering for one address is an outage), no (VM, network) pair twice.
 * The VM and network references are checked against the pools by the XO side.
 */
export function parsePluginConfig(config: PluginConfig): {
  bindings: Binding[]
  gatewayCheckSeconds: number
  rescue: boolean
  autoStart: boolean
  fixVifChecksum: boolean
  confirmSeconds: number
} {
  if (typeof config !== 'object' || config === null || !Array.isArray(config.bindings)) {
    throw invalidArgument('bindings: a list of bindings is required', 'bindings')
  }
  const gatewayCheckSeconds = parseGatewayCheckSeconds(config.gatewayCheckSeconds)
  const rescue = booleanField(config.rescue, 'rescue', 'settings')
  // On unless turned off: it only does what auto_poweron already asks for.
  const autoStart = config.autoStart === undefined || booleanField(config.autoStart, 'autoStart', 'settings')
  const fixVifChecksum = booleanField(config.fixVifChecksum, 'fixVifChecksum', 'settings')
  const confirmSeconds = parseSecondsField(
    config.confirmSeconds,
    'confirmSeconds',
    DEFAULT_CONFIRM_SECONDS,
    MAX_CONFIRM_SECONDS,
  )
  const bindings = config.bindings.map(parseBinding)
  rejectClaimedTwice(bindings)
  return { bindings, gatewayCheckSeconds, rescue, autoStart, fixVifChecksum, confirmSeconds }
}

/** Both identities are compared as given; the XO side calls it again with resolved UUIDs. */
export function rejectClaimedTwice(bindings: Binding[], positions: number[] = bindings.map((_, i) => i)): void {
  const addressOwner = new Map<string, number>()
  const pairOwner = new Map<string, number>()
  bindings.forEach((binding, i) => {
    const index = positions[i] ?? i
    const pair = `${binding.vm}\n${binding.network}`
    const firstPair = pairOwner.get(pair)
    if (firstPair !== undefined) {
      throw invalidArgument(
        `${bindingLabel(index, binding)}: this VM and network are already bound by binding ${firstPair + 1}; merge them into one binding`,
        binding.vm,
      )
    }
    pairOwner.set(pair, index)
    for (const cidr of binding.addresses) {
      const first = addressOwner.get(cidr.address)
      if (first !== undefined && first !== index) {
        throw invalidArgument(
          `${bindingLabel(index, binding)}: address ${cidrText(cidr)} is already claimed by binding ${first + 1}`,
          cidr.address,
        )
      }
      addressOwner.set(cidr.address, index)
    }
  })
}

/**
 * The host plugin's `apply` arguments for a binding on a host. `managementBridge` is the
 * bridge of that host's management PIF; without it there is no mirror.
 */
export function applyArgsFor(
  binding: Binding,
  bridge: string,
  managementBridge: string | undefined,
  gatewayCheckSeconds: number,
): PluginArgs {
  const management =
    binding.managementAddress && managementBridge && managementBridge !== bridge
      ? { ...binding.managementAddress, bridge: managementBridge }
      : undefined
  return encodeApplyArgs({
    bridge,
    addresses: binding.addresses,
    gateways: binding.gateways,
    routes: binding.routes,
    management,
    proxyArp: binding.proxyArp,
    forwarding: binding.forwarding,
    gatewayCheckSeconds,
  })
}

// ---------------------------------------------------------------------------------------
// Pool form: pool.other_config["vif-ip-binder"]

export const POOL_CONFIG_KEY = 'vif-ip-binder'
/** Bumped when the pool form changes incompatibly; readers refuse versions they do not know. */
export const POOL_CONFIG_VERSION = 1

export interface PoolBinding {
  /** VM UUID. */
  vm: string
  /** Network UUID (resolved from a name by XO). */
  network: string
  /** Canonical CIDR text. */
  addresses: string[]
  gateways: string[]
  /** Canonical `dest` or `dest=via`. */
  routes: string[]
  managementAddress?: string
  proxyArp: boolean
  forwarding: boolean
  srs: SrConfig[]
}

/** Who wrote the pool document and when: informative, readers never act on it. */
export interface WrittenBy {
  by: 'xo' | 'host'
  /** The host's UUID, for a host's write. */
  host?: string
  /** ISO time of the write. */
  at: string
}

export interface PoolConfig {
  version: typeof POOL_CONFIG_VERSION
  /** Added compatibly in version 1: readers that predate it ignore it. */
  writtenBy?: WrittenBy
  gatewayCheckSeconds: number
  /** The host may enable itself and start the bound VMs first when it booted disabled. */
  rescue: boolean
  /** plug-srs starts the auto_poweron VMs it brought storage back for; absent means on. */
  autoStart?: boolean
  bindings: PoolBinding[]
}

/** A parsed binding in the pool form, with its network given as a UUID. */
export function toPoolBinding(binding: Binding, vmUuid: string, networkUuid: string): PoolBinding {
  const pool: PoolBinding = {
    vm: vmUuid,
    network: networkUuid,
    addresses: binding.addresses.map(cidrText),
    gateways: binding.gateways.map(g => g.address),
    routes: binding.routes.map(routeText),
    proxyArp: binding.proxyArp,
    forwarding: binding.forwarding,
    srs: binding.srs,
  }
  if (binding.managementAddress) pool.managementAddress = binding.managementAddress.address
  return pool
}

/** Stable text: the same bindings always give the same string, so writers can skip no-op writes. */
export function encodePoolConfig(config: PoolConfig): string {
  return JSON.stringify({
    version: config.version,
    ...(config.writtenBy ? { writtenBy: config.writtenBy } : {}),
    gatewayCheckSeconds: config.gatewayCheckSeconds,
    rescue: config.rescue,
    ...(config.autoStart === false ? { autoStart: false } : {}),
    bindings: config.bindings.map(b => ({
      vm: b.vm,
      network: b.network,
      addresses: b.addresses,
      gateways: b.gateways,
      routes: b.routes,
      ...(b.managementAddress ? { managementAddress: b.managementAddress } : {}),
      proxyArp: b.proxyArp,
      forwarding: b.forwarding,
      srs: b.srs,
    })),
  })
}

/**
 * Reads the pool form back (host side), validating as strictly as XO did: a hand-edited
 * or future-version value is refused with a message naming what is wrong.
 */
export function decodePoolConfig(text: string): { config: PoolConfig; bindings: Binding[] } {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw invalidArgument(
      `pool other_config ${POOL_CONFIG_KEY}: not JSON (${(error as Error).message})`,
      text.slice(0, 80),
    )
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`pool other_config ${POOL_CONFIG_KEY}: expected a JSON object`, text.slice(0, 80))
  }
  const { version, gatewayCheckSeconds, rescue, autoStart, bindings } = value as Partial<PoolConfig>
  if (version !== POOL_CONFIG_VERSION) {
    throw invalidArgument(
      `pool other_config ${POOL_CONFIG_KEY}: version ${JSON.stringify(version)} is not ${POOL_CONFIG_VERSION} (written by another release of the XO plugin?)`,
      String(version),
    )
  }
  if (!Array.isArray(bindings))
    throw invalidArgument(`pool other_config ${POOL_CONFIG_KEY}: bindings must be a list`, 'bindings')
  for (const [index, b] of bindings.entries()) {
    for (const field of ['vm', 'network'] as const) {
      if (typeof b?.[field] !== 'string' || !isUuid(b[field])) {
        throw invalidArgument(
          `pool other_config ${POOL_CONFIG_KEY}: binding ${index + 1}: ${field} ${JSON.stringify(b?.[field])} is not a UUID`,
          String(b?.[field]),
        )
      }
    }
  }
  const parsed = parsePluginConfig({
    bindings: bindings as BindingConfig[],
    gatewayCheckSeconds,
    rescue,
    autoStart,
  })
  return {
    config: {
      version: POOL_CONFIG_VERSION,
      gatewayCheckSeconds: parsed.gatewayCheckSeconds,
      rescue: parsed.rescue,
      ...(parsed.autoStart ? {} : { autoStart: false }),
      bindings: parsed.bindings.map((b, i) => toPoolBinding(b, bindings[i]!.vm, bindings[i]!.network)),
    },
    bindings: parsed.bindings,
  }
}

// ---------------------------------------------------------------------------------------
// The settings-page form of one binding. Plain data (no XO import) so the host side and
// tests can read it; only keywords xo-web's form generator renders, plus `$type` pickers.

export const bindingSchema = {
  type: 'object',
  title: 'Binding',
  description:
    "One firewall VM and the private network that dom0 shares with it. While the VM runs with its VIF on that network plugged, the host it runs on gets the addresses, gateways and routes below on that network's bridge.",
  properties: {
    vm: {
      type: 'string',
      $type: 'VM',
      title: 'Firewall VM',
      description: 'The VM that routes for dom0 (pfSense, OPNsense…). Its host gets the addresses while it runs.',
    },
    network: {
      type: 'string',
      title: 'Network',
      description:
        'The network dom0 shares with the VM: a private network without PIF (bridge `xapiN`). Leave empty when the VM has exactly one such network; otherwise type its **exact name** (unique in the pool) or its **UUID**.',
    },
    addresses: {
      type: 'array',
      title: 'dom0 addresses',
      description:
        "dom0's addresses on that network, with their prefix length: `192.168.1.2/24`, `2001:db8::2/64`. At least one.",
      items: { type: 'string', title: 'Address (CIDR)' },
    },
    gateways: {
      type: 'array',
      title: 'Gateways',
      description:
        "The firewall's address on that network, used as dom0's default route (at most one IPv4 and one IPv6). It must lie inside one of the addresses' prefixes. If it does not answer within the check window, the previous default route is restored.",
      items: { type: 'string', title: 'Gateway address' },
    },
    routes: {
      type: 'array',
      title: 'Extra routes',
      description:
        'Routes through this network: `10.0.0.0/8=192.168.1.1` (via a next hop) or `192.168.50.0/24` (on-link, through the bridge).',
      items: { type: 'string', title: 'Route' },
    },
    managementAddress: {
      type: 'string',
      title: 'Management address mirror',
      description:
        "Also put this address (as /32 or /128) on the host's management bridge, so the console and statistics links XAPI hands out keep working. Usually the host's management IP.",
    },
    proxyArp: {
      type: 'boolean',
      title: 'Proxy ARP',
      description: 'Answer ARP on the bridge for addresses routed through dom0 (Xen `vif-route` style).',
      default: false,
    },
    forwarding: {
      type: 'boolean',
      title: 'IP forwarding',
      description: 'Let dom0 forward packets on this bridge. Leave off unless dom0 routes for guests.',
      default: false,
    },
    storage: {
      type: 'array',
      title: 'SRs',
      description:
        'NFS, SMB or iSCSI SRs whose server is reached through this firewall: once the addresses and gateway are in place, the host re-plugs them as soon as their server answers.',
      items: { type: 'string', $type: 'SR', title: 'SR' },
    },
    storageProbe: {
      type: 'string',
      title: 'Storage probe',
      description:
        "What must answer before those SRs are plugged, if not their own server: `tcp:10.0.0.10:2049` or `icmp:10.0.0.10`. Empty: each SR's server and port (NFS 2049, SMB 445, iSCSI 3260).",
    },
  },
  required: ['vm', 'addresses'],
} as const
