// "Is the storage server there yet?" A probe is `icmp:<address>` or `tcp:<host>:<port>`
// (an IPv6 host in brackets: `tcp:[2001:db8::10]:2049`). Without one, the host plugin
// derives TCP probes from the PBD's device_config, read as XCP-ng's SM drivers read it
// (NFSSR, SMBSR, ISOSR, LVHDoISCSISR); a shape it does not know is reported, not taken
// for local storage.

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

/** How to tell that an SR's server answers, read from its PBD's device_config the way its SM driver reads it. */
export type SrProbe =
  | { kind: 'network'; probes: Probe[] }
  | { kind: 'local' }
  /** A type or device_config this code does not know: reported, and pinged when it names a host. */
  | { kind: 'unknown'; reason: string; probes: Probe[] }

const NFS_PORT = 2049
const SMB_PORT = 445
const ISCSI_PORT = 3260

/** SM drivers whose SRs are on the host itself or its local bus: nothing to wait for. */
const LOCAL_TYPES = new Set([
  'ext',
  'lvm',
  'file',
  'udev',
  'dummy',
  'xfs',
  'zfs',
  'btrfs',
  'largeblock',
  'hba',
  'lvmohba',
])

/** Keys an unknown driver is likely to name its server with, for the ping fallback. */
const SERVER_KEYS = ['server', 'target', 'location', 'host', 'hostname']

/** A device_config host: a name, an IPv4 address, or an IPv6 address with or without brackets. */
function configHost(text: string): string {
  const host = text.includes(':') && !text.startsWith('[') ? `[${text}]` : text
  return parseHost(host, 'device_config', text)
}

function tcpProbe(host: string, port: number): Probe {
  return { kind: 'tcp', host: configHost(host), port }
}

function required(config: Record<string, string>, key: string): string {
  const value = config[key]?.trim()
  if (!value) throw new Error(`no ${key}`)
  return value
}

/** `\\host\share`, `//host/share`, or a bare host. */
function uncHost(path: string): string {
  return path.replace(/^[\\/]{2}/, '').split(/[\\/]/)[0] ?? ''
}

/** `server:/path`, or `[2001:db8::1]:/path` (what ISOSR's NFS parser accepts). */
function nfsLocationHost(location: string): string {
  if (location.startsWith('[')) return location.slice(0, location.indexOf(']') + 1)
  const colon = location.indexOf(':')
  if (colon <= 0) throw new Error(`location ${JSON.stringify(location)} is not server:/path`)
  return location.slice(0, colon)
}

function isoProbe(config: Record<string, string>): SrProbe {
  const location = required(config, 'location')
  if ('legacy_mode' in config || /^\/(?!\/)/.test(location)) return { kind: 'local' }
  // ISOSR: an explicit type wins; without one, `:/` means NFS and anything else SMB.
  const protocol = config.type ?? (location.includes(':/') ? 'nfs_iso' : 'cifs')
  if (protocol === 'nfs_iso') return { kind: 'network', probes: [tcpProbe(nfsLocationHost(location), NFS_PORT)] }
  if (protocol === 'cifs') return { kind: 'network', probes: [tcpProbe(uncHost(location), SMB_PORT)] }
  throw new Error(`type ${JSON.stringify(protocol)} is neither cifs nor nfs_iso`)
}

/** Every portal of the comma-separated `target` list, on `port` (SM's default 3260). */
function iscsiProbes(config: Record<string, string>): Probe[] {
  const port = config.port?.trim() ? Number(config.port) : ISCSI_PORT
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`port ${JSON.stringify(config.port)} is not a TCP port`)
  const targets = required(config, 'target')
    .split(',')
    .map(t => t.trim())
    .filter(Boolean)
  return targets.map(t => tcpProbe(t, port))
}

function knownShape(srType: string, config: Record<string, string>): SrProbe | undefined {
  switch (srType) {
    case 'nfs':
      return { kind: 'network', probes: [tcpProbe(required(config, 'server'), NFS_PORT)] }
    case 'smb':
    case 'cifs': {
      // SMBSR reads `server`; some older SRs were created with `location` instead.
      const share = config.server?.trim() ? config.server : required(config, 'location')
      return { kind: 'network', probes: [tcpProbe(uncHost(share), SMB_PORT)] }
    }
    case 'iso':
      return isoProbe(config)
    case 'lvmoiscsi':
    case 'iscsi':
    case 'gfs2':
      return { kind: 'network', probes: iscsiProbes(config) }
    default:
      return LOCAL_TYPES.has(srType) ? { kind: 'local' } : undefined
  }
}

/** A ping of whatever host an unknown shape names, so it is still waited for. */
function pingFallback(config: Record<string, string>): Probe[] {
  for (const key of SERVER_KEYS) {
    const value = config[key]?.trim()
    if (!value) continue
    const host =
      value.startsWith('\\') || value.startsWith('//') ? uncHost(value) : value.split(/[,/]/)[0]!.replace(/:$/, '')
    try {
      return [{ kind: 'icmp', address: configHost(host) }]
    } catch {
      continue
    }
  }
  return []
}

/** Where an SR's server lives, from its type and its PBD's device_config. */
export function srProbe(srType: string, config: Record<string, string>): SrProbe {
  try {
    const known = knownShape(srType, config)
    if (known) return known
    return {
      kind: 'unknown',
      reason: `SR type ${JSON.stringify(srType)} is not one this plugin knows`,
      probes: pingFallback(config),
    }
  } catch (error) {
    const reason = `${srType} device_config: ${(error as Error).message}`
    return { kind: 'unknown', reason, probes: pingFallback(config) }
  }
}
