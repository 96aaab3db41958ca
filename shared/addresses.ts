// Strict address parsing. Everything a caller types passes through here before any
// command runs, so every rejection names the offending text.

import ipaddr from 'ipaddr.js'
import { invalidArgument } from './errors.ts'

export type Family = 4 | 6

export interface Cidr {
  /** Canonical address text (IPv6 compressed, lower case). */
  address: string
  prefix: number
  family: Family
}

export function familyName(family: Family): 'IPv4' | 'IPv6' {
  return family === 4 ? 'IPv4' : 'IPv6'
}

export function cidrText(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefix}`
}

/** The family of an address or CIDR that is already known to be valid. */
export function familyOf(text: string): Family {
  return text.includes(':') ? 6 : 4
}

export function hostPrefix(family: Family): number {
  return family === 4 ? 32 : 128
}

/**
 * Parses one IP address. IPv4 must be four decimal parts (no `10.1`, no octal `010.0.0.1`);
 * IPv6 must not carry a zone (`%eth0`): an address means the same on every interface.
 */
export function parseIp(text: string, what: string, whole = text): { address: string; family: Family } {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    const parsed = ipaddr.IPv4.parse(text)
    if (parsed.toString() !== text)
      throw invalidArgument(`${what}: ${JSON.stringify(whole)} is not a canonical IPv4 address`, whole)
    return { address: parsed.toString(), family: 4 }
  }
  if (!text.includes('%') && ipaddr.IPv6.isValid(text)) {
    return { address: ipaddr.IPv6.parse(text).toString(), family: 6 }
  }
  const hint = whole === text ? 'is not an IP address' : `does not start with an IP address`
  throw invalidArgument(`${what}: ${JSON.stringify(whole)} ${hint}`, whole)
}

function parsePrefix(text: string, family: Family, whole: string, what: string): number {
  if (!/^\d{1,3}$/.test(text))
    throw invalidArgument(`${what}: ${JSON.stringify(whole)} has no valid prefix length`, whole)
  const prefix = Number(text)
  if (prefix > hostPrefix(family)) {
    throw invalidArgument(
      `${what}: ${JSON.stringify(whole)} has prefix /${prefix}, more than ${familyName(family)} allows`,
      whole,
    )
  }
  return prefix
}

// Documentation ranges (ipaddr.js calls them 'reserved') stay usable: labs and examples use them.
const unusableRanges = new Set(['unspecified', 'multicast', 'loopback', 'broadcast', 'ipv4Mapped'])

/** An address to put on an interface: `192.0.2.2/24` or `2001:db8::2/64`. */
export function parseInterfaceCidr(text: string, what: string): Cidr {
  const slash = text.indexOf('/')
  if (slash < 0)
    throw invalidArgument(`${what}: ${JSON.stringify(text)} needs a prefix length (e.g. 192.0.2.2/24)`, text)
  const { address, family } = parseIp(text.slice(0, slash), what, text)
  const prefix = parsePrefix(text.slice(slash + 1), family, text, what)
  if (prefix === 0) throw invalidArgument(`${what}: ${JSON.stringify(text)} has prefix /0`, text)
  const range = ipaddr.parse(address).range()
  if (unusableRanges.has(range)) throw invalidArgument(`${what}: ${JSON.stringify(text)} is a ${range} address`, text)
  if (family === 4 && prefix <= 30) {
    const network = ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`).toString()
    const broadcast = ipaddr.IPv4.broadcastAddressFromCIDR(`${address}/${prefix}`).toString()
    if (address === network)
      throw invalidArgument(`${what}: ${JSON.stringify(text)} is the network address of its prefix`, text)
    if (address === broadcast)
      throw invalidArgument(`${what}: ${JSON.stringify(text)} is the broadcast address of its prefix`, text)
  }
  return { address, prefix, family }
}

/** A route destination: a network with its host bits clear, or a bare address (a host route). */
export function parseRouteDestination(text: string, what: string): Cidr {
  const slash = text.indexOf('/')
  const { address, family } = parseIp(slash < 0 ? text : text.slice(0, slash), what, text)
  const prefix = slash < 0 ? hostPrefix(family) : parsePrefix(text.slice(slash + 1), family, text, what)
  if (prefix === 0)
    throw invalidArgument(`${what}: ${JSON.stringify(text)} is a default route: use the gateway argument`, text)
  const network = networkOf({ address, prefix, family })
  if (network !== address) {
    throw invalidArgument(
      `${what}: ${JSON.stringify(text)} has host bits set (did you mean ${network}/${prefix}?)`,
      text,
    )
  }
  return { address, prefix, family }
}

export function networkOf(cidr: Cidr): string {
  const text = cidrText(cidr)
  return cidr.family === 4
    ? ipaddr.IPv4.networkAddressFromCIDR(text).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(text).toString()
}

export function contains(cidr: Cidr, address: string): boolean {
  const ip = ipaddr.parse(address)
  if ((ip.kind() === 'ipv4') !== (cidr.family === 4)) return false
  return ip.match(ipaddr.parse(cidr.address), cidr.prefix)
}
