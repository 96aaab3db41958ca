// "Is the storage server there yet?" A probe is `icmp:<address>` or `tcp:<host>:<port>`
// (an IPv6 host in brackets: `tcp:[2001:db8::10]:2049`). Without one, the host plugin
// derives a TCP probe from the PBD's device_config, by SR type.

import { parseIp } from './addresses.ts'
import { invalidArgument } from './errors.ts'

export type Probe = { kind: 'icmp'; address: string } | { kind: 'tcp'; host: string; port: number }

// RFC 1123 host names: device_config may name the server rather than give its address.
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

function parseHost(text: string, what: string, whole: string): string {
  if (text.startsWith('[') && text.endsWith(']')) {
    const { address, family } = parseIp(text.slice(1, -1), what, whole)
    if (family !== 6) throw invalidArgument(`${what}: ${JSON.stringify(whole)}: brackets are for IPv6 addresses`, whole)
    return address
  }
  if (/^[0-9.]+$/.test(text)) return parseIp(text, what, whole).address
  if (HOST_NAME.test(text)) return text
  throw invalidArgument(`${what}: ${JSON.stringify(whole)} does not name a host`, whole)
}

export function parseProbe(text: string, what = 'probe'): Probe {
  if (text.startsWith('icmp:')) return { kind: 'icmp', address: parseIp(text.slice(5), what, text).address }
  if (text.startsWith('tcp:')) {
    const rest = text.slice(4)
    const colon = rest.lastIndexOf(':')
    const portText = colon < 0 ? '' : rest.slice(colon + 1)
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw invalidArgument(`${what}: ${JSON.stringify(text)} needs a port from 1 to 65535 (tcp:<host>:<port>)`, text)
    }
    return { kind: 'tcp', host: parseHost(rest.slice(0, colon), what, text), port: Number(portText) }
  }
  throw invalidArgument(`${what}: ${JSON.stringify(text)} is neither icmp:<address> nor tcp:<host>:<port>`, text)
}

export function probeText(probe: Probe): string {
  if (probe.kind === 'icmp') return `icmp:${probe.address}`
  return `tcp:${probe.host.includes(':') ? `[${probe.host}]` : probe.host}:${probe.port}`
}

/** Where an SR's server lives, from its PBD's device_config; undefined for local storage. */
export function probeFromDeviceConfig(srType: string, config: Record<string, string>): Probe | undefined {
  const tcp = (host: string | undefined, port: number): Probe | undefined => {
    if (!host) return undefined
    try {
      return { kind: 'tcp', host: parseHost(host, 'device_config', host), port }
    } catch {
      return undefined
    }
  }
  switch (srType) {
    case 'nfs':
    case 'iso': // an NFS ISO library names its server the same way
      return tcp(config.server, 2049)
    case 'smb':
    case 'cifs': {
      // `server` is `\\host\share` (or just the host); `location` is `//host/share`.
      const unc = config.server ?? config.location ?? ''
      return tcp(unc.replace(/^[\\/]{2}/, '').split(/[\\/]/)[0], 445)
    }
    case 'lvmoiscsi':
    case 'iscsi':
      return tcp(config.target?.split(',')[0], Number(config.port) || 3260)
    default:
      return undefined
  }
}
