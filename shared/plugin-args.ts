// The host plugin's argument contract. xapi passes a flat string→string map; this module
// turns it into typed requests (host side) and builds it from typed requests (XO side),
// so both ends agree on names, defaults and validation.

import {
  type Cidr,
  type Family,
  cidrText,
  contains,
  familyName,
  parseInterfaceCidr,
  parseIp,
  parseRouteDestination,
} from './addresses.ts'
import { invalidArgument } from './errors.ts'
import { FUNCTION_SPECS, argumentNames, suggestion } from './function-spec.ts'
import { type Probe, parseProbe } from './probes.ts'
import { MAX_CONFIRM_SECONDS } from './results.ts'
import { isUuid } from './xapi-ids.ts'

export type PluginArgs = Record<string, string>

export interface RouteSpec {
  destination: Cidr
  /** Next hop; absent for an on-link route through the bridge (Xen's vif-route style). */
  via?: string
}

export interface Gateway {
  address: string
  family: Family
}

export interface ApplyRequest {
  bridge: string
  addresses: Cidr[]
  gateways: Gateway[]
  routes: RouteSpec[]
  management?: { address: string; family: Family; bridge: string }
  proxyArp: boolean
  forwarding: boolean
  gatewayCheckSeconds: number
  dryRun: boolean
}

export interface ReleaseRequest {
  bridge: string
  dryRun: boolean
}

export interface StatusRequest {
  bridge?: string
  /** false: leave out the firewall VIFs' check, the part that asks the local xapi. */
  firewallVifs?: boolean
}

export const DEFAULT_GATEWAY_CHECK_SECONDS = 10
export const MAX_GATEWAY_CHECK_SECONDS = 300

/** The argument names each function accepts (from FUNCTION_SPECS); anything else is refused. */
export const FUNCTION_KEYS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  FUNCTION_SPECS.map(spec => [spec.name, argumentNames(spec.name)]),
)

/** Refuses an argument the function does not take, suggesting the nearest one it does. */
export function rejectUnknownKeys(fn: string, args: PluginArgs): void {
  const allowed = FUNCTION_KEYS[fn] ?? []
  for (const key of Object.keys(args)) {
    if (!allowed.includes(key)) {
      const near = suggestion(key, allowed)
      const hint = allowed.length ? ` (accepted: ${allowed.join(', ')})` : ' (it takes no arguments)'
      throw invalidArgument(`${fn}: unknown argument ${JSON.stringify(key)}${near}${hint}`, key)
    }
  }
}

// Linux accepts up to 15 bytes and almost any byte; we accept the names xapi and admins
// actually use, which also keeps every name safe in logs and paths.
const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/

export function parseInterfaceName(text: string, what: string): string {
  if (!INTERFACE_NAME.test(text) || text === '.' || text === '..') {
    throw invalidArgument(
      `${what}: ${JSON.stringify(text)} is not a valid interface name (1-15 letters, digits, '.', '_', '-')`,
      text,
    )
  }
  return text
}

/**
 * `network=<uuid>` names the bridge through xapi; the host plugin resolves it (and a
 * management bridge left out) before parsing. Reaching a parser with it is a bug.
 */
function rejectUnresolved(fn: string, args: PluginArgs): void {
  if (args.network !== undefined)
    throw invalidArgument(`${fn}: network must be resolved to its bridge first`, 'network')
}

function required(args: PluginArgs, key: string, fn: string): string {
  const value = args[key]
  if (value === undefined || value.trim() === '')
    throw invalidArgument(`${fn}: argument ${JSON.stringify(key)} is required`, key)
  return value
}

/** Comma-separated list; blanks around items are ignored, empty items are not. */
export function parseList(text: string | undefined, what: string): string[] {
  if (text === undefined || text.trim() === '') return []
  const items = text.split(',').map(item => item.trim())
  if (items.some(item => item === '')) throw invalidArgument(`${what}: ${JSON.stringify(text)} has an empty item`, text)
  return items
}

export function parseBoolean(text: string | undefined, what: string, fallback: boolean): boolean {
  if (text === undefined || text === '') return fallback
  if (text === 'true') return true
  if (text === 'false') return false
  throw invalidArgument(`${what}: ${JSON.stringify(text)} is not true or false`, text)
}

function parseSeconds(text: string | undefined, what: string, fallback: number, max: number): number {
  if (text === undefined || text === '') return fallback
  if (!/^\d{1,4}$/.test(text) || Number(text) > max) {
    throw invalidArgument(`${what}: ${JSON.stringify(text)} is not a whole number of seconds from 0 to ${max}`, text)
  }
  return Number(text)
}

/** `confirm=N`: seconds before an unconfirmed change reverts by itself; 0 (the default) arms nothing. */
export function parseConfirmSeconds(text: string | undefined): number {
  return parseSeconds(text, 'confirm', 0, MAX_CONFIRM_SECONDS)
}

/** `confirm token=T`. */
export function parseConfirmArgs(args: PluginArgs): { token: string } {
  rejectUnknownKeys('confirm', args)
  return { token: parseUuid(required(args, 'token', 'confirm'), 'token') }
}

/** A route as the `routes` argument writes it: `dest` or `dest=via`; parseRoute reads it back. */
export function routeText(route: RouteSpec): string {
  return route.via ? `${cidrText(route.destination)}=${route.via}` : cidrText(route.destination)
}

function parseRoute(text: string): RouteSpec {
  const equals = text.indexOf('=')
  if (equals < 0) return { destination: parseRouteDestination(text, 'routes') }
  const destination = parseRouteDestination(text.slice(0, equals), 'routes')
  const via = parseIp(text.slice(equals + 1), 'routes', text)
  if (via.family !== destination.family) {
    throw invalidArgument(
      `routes: ${JSON.stringify(text)} mixes ${familyName(destination.family)} and ${familyName(via.family)}`,
      text,
    )
  }
  return { destination, via: via.address }
}

/** Two items with the same key (e.g. one address with two prefixes) are one item typed twice. */
function rejectDuplicates<T>(texts: string[], parsed: T[], keyOf: (item: T) => string, what: string): void {
  const seen = new Map<string, string>()
  parsed.forEach((item, i) => {
    const key = keyOf(item)
    const earlier = seen.get(key)
    if (earlier !== undefined) {
      const both =
        earlier === texts[i] ? JSON.stringify(earlier) : `${JSON.stringify(earlier)} and ${JSON.stringify(texts[i])}`
      throw invalidArgument(
        `${what}: ${both} ${earlier === texts[i] ? 'is listed twice' : 'are the same address'}`,
        texts[i]!,
      )
    }
    seen.set(key, texts[i]!)
  })
}

export function parseApplyArgs(args: PluginArgs): ApplyRequest {
  rejectUnknownKeys('apply', args)
  rejectUnresolved('apply', args)
  const bridge = parseInterfaceName(required(args, 'bridge', 'apply'), 'bridge')
  const addressTexts = parseList(required(args, 'addresses', 'apply'), 'addresses')
  const addresses = addressTexts.map(a => parseInterfaceCidr(a, 'addresses'))
  rejectDuplicates(addressTexts, addresses, a => a.address, 'addresses')
  return {
    bridge,
    addresses,
    gateways: parseGateways(args.gateway, addresses),
    routes: parseRoutes(args.routes, addresses),
    management: parseManagement(args, bridge),
    proxyArp: parseBoolean(args['proxy-arp'], 'proxy-arp', false),
    forwarding: parseBoolean(args.forwarding, 'forwarding', false),
    gatewayCheckSeconds: parseSeconds(
      args['gateway-check'],
      'gateway-check',
      DEFAULT_GATEWAY_CHECK_SECONDS,
      MAX_GATEWAY_CHECK_SECONDS,
    ),
    dryRun: parseBoolean(args['dry-run'], 'dry-run', false),
  }
}

/** At most one gateway per family, each inside a bound prefix of its family. */
function parseGateways(list: string | undefined, addresses: Cidr[]): Gateway[] {
  const gateways: Gateway[] = parseList(list, 'gateway').map(text => {
    const gateway = parseIp(text, 'gateway')
    const sameFamily = addresses.filter(a => a.family === gateway.family)
    if (sameFamily.length === 0) {
      throw invalidArgument(
        `gateway: ${JSON.stringify(text)} is ${familyName(gateway.family)} but no ${familyName(gateway.family)} address is bound`,
        text,
      )
    }
    if (sameFamily.some(a => a.address === gateway.address)) {
      throw invalidArgument(`gateway: ${JSON.stringify(text)} is one of the addresses being bound`, text)
    }
    if (!sameFamily.some(a => contains(a, gateway.address))) {
      const prefixes = sameFamily.map(cidrText).join(', ')
      throw invalidArgument(`gateway: ${JSON.stringify(text)} is outside every bound prefix (${prefixes})`, text)
    }
    return gateway
  })
  for (const family of [4, 6] as const) {
    if (gateways.filter(g => g.family === family).length > 1) {
      throw invalidArgument(
        `gateway: ${JSON.stringify(list)} has more than one ${familyName(family)} gateway`,
        list ?? '',
      )
    }
  }
  return gateways
}

function parseRoutes(list: string | undefined, addresses: Cidr[]): RouteSpec[] {
  const routeTexts = parseList(list, 'routes')
  const routes = routeTexts.map(parseRoute)
  // The route goes out through the bridge, so its next hop must be on the bridge: the
  // kernel would refuse it half-way through the apply otherwise.
  routes.forEach((route, i) => {
    if (route.via && !addresses.some(a => contains(a, route.via!))) {
      const prefixes =
        addresses
          .filter(a => a.family === route.destination.family)
          .map(cidrText)
          .join(', ') || 'none'
      throw invalidArgument(
        `routes: next hop in ${JSON.stringify(routeTexts[i])} is outside every bound prefix (${prefixes})`,
        routeTexts[i]!,
      )
    }
  })
  rejectDuplicates(routeTexts, routes, r => cidrText(r.destination), 'routes')
  return routes
}

function parseManagement(args: PluginArgs, bridge: string): ApplyRequest['management'] {
  const addressText = args['management-address']
  const bridgeText = args['management-bridge']
  if (!addressText && !bridgeText) return undefined
  if (!addressText || !bridgeText) {
    throw invalidArgument(
      'apply: management-address and management-bridge go together',
      addressText ? 'management-bridge' : 'management-address',
    )
  }
  const { address, family } = parseIp(addressText, 'management-address')
  const bridgeName = parseInterfaceName(bridgeText, 'management-bridge')
  if (bridgeName === bridge)
    throw invalidArgument(`management-bridge: ${JSON.stringify(bridgeName)} is the bound bridge itself`, bridgeName)
  return { address, family, bridge: bridgeName }
}

export function parseReleaseArgs(args: PluginArgs): ReleaseRequest {
  rejectUnknownKeys('release', args)
  rejectUnresolved('release', args)
  return {
    bridge: parseInterfaceName(required(args, 'bridge', 'release'), 'bridge'),
    dryRun: parseBoolean(args['dry-run'], 'dry-run', false),
  }
}

export function parseStatusArgs(args: PluginArgs): StatusRequest {
  rejectUnknownKeys('status', args)
  const request: StatusRequest = args.bridge ? { bridge: parseInterfaceName(args.bridge, 'bridge') } : {}
  if (!parseBoolean(args['firewall-vifs'], 'firewall-vifs', true)) request.firewallVifs = false
  return request
}

export function parseNoArgs(fn: string, args: PluginArgs): void {
  rejectUnknownKeys(fn, args)
}

/** The XO side's encoder: the exact inverse of parseApplyArgs. */
export function encodeApplyArgs(request: Omit<ApplyRequest, 'dryRun'> & { dryRun?: boolean }): PluginArgs {
  const args: PluginArgs = {
    bridge: request.bridge,
    addresses: request.addresses.map(cidrText).join(','),
  }
  if (request.gateways.length) args.gateway = request.gateways.map(g => g.address).join(',')
  if (request.routes.length) {
    args.routes = request.routes.map(routeText).join(',')
  }
  if (request.management) {
    args['management-address'] = request.management.address
    args['management-bridge'] = request.management.bridge
  }
  if (request.proxyArp) args['proxy-arp'] = 'true'
  if (request.forwarding) args.forwarding = 'true'
  if (request.gatewayCheckSeconds !== DEFAULT_GATEWAY_CHECK_SECONDS)
    args['gateway-check'] = String(request.gatewayCheckSeconds)
  if (request.dryRun) args['dry-run'] = 'true'
  return args
}

export interface PlugSrsRequest {
  srs: string[]
  /** Explicit probes by SR UUID; the others are derived from the PBDs' device_config. */
  probes: Record<string, Probe>
  timeoutSeconds: number
}

export const DEFAULT_PLUG_TIMEOUT_SECONDS = 120

export function parseUuid(text: string, what: string): string {
  if (!isUuid(text)) throw invalidArgument(`${what}: ${JSON.stringify(text)} is not a UUID`, text)
  return text.toLowerCase()
}

export function parsePlugSrsArgs(args: PluginArgs): PlugSrsRequest {
  rejectUnknownKeys('plug-srs', args)
  const srTexts = parseList(required(args, 'srs', 'plug-srs'), 'srs')
  const srs = srTexts.map(text => parseUuid(text, 'srs'))
  rejectDuplicates(srTexts, srs, uuid => uuid, 'srs')
  const probes: Record<string, Probe> = {}
  for (const item of parseList(args.probes, 'probes')) {
    const equals = item.indexOf('=')
    if (equals < 0) throw invalidArgument(`probes: ${JSON.stringify(item)} is not <sr-uuid>=<probe>`, item)
    const sr = parseUuid(item.slice(0, equals), 'probes')
    if (!srs.includes(sr)) throw invalidArgument(`probes: ${JSON.stringify(item)} is for an SR not listed in srs`, item)
    if (probes[sr]) throw invalidArgument(`probes: ${JSON.stringify(item)}: a second probe for the same SR`, item)
    probes[sr] = parseProbe(item.slice(equals + 1), 'probes')
  }
  return { srs, probes, timeoutSeconds: parseSeconds(args.timeout, 'timeout', DEFAULT_PLUG_TIMEOUT_SECONDS, 3600) }
}

/** The XO side's (and reconcile's) encoder: the exact inverse of parsePlugSrsArgs. */
export function encodePlugSrsArgs(srs: { sr: string; probe?: string }[], timeoutSeconds: number): PluginArgs {
  const args: PluginArgs = { srs: srs.map(s => s.sr).join(','), timeout: String(timeoutSeconds) }
  const probes = srs.filter(s => s.probe).map(s => `${s.sr}=${s.probe}`)
  if (probes.length) args.probes = probes.join(',')
  return args
}

/** Order-independent text of plugin arguments: what Xen Orchestra sends and what a host recorded (or held back) compare equal. */
export function canonicalArgs(args: PluginArgs): string {
  return JSON.stringify(
    Object.keys(args)
      .sort()
      .map(key => [key, args[key]]),
  )
}
