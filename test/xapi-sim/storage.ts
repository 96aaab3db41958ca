// PBD.plug succeeds only if the SR's server accepts a TCP connection from the host's
// namespace (what the SM driver's mount or login needs first); otherwise the
// SR_BACKEND_FAILURE the SM driver would report for that SR type.

import { XapiFailure } from './errors.ts'
import { probeTcp } from './netns-tools.ts'
import type { ObjectStore } from './store.ts'
import type { Timeline } from './timeline.ts'
import type { HostRuntime } from './topology.ts'

export interface StorageTarget {
  /** Servers the driver tries, in order; the plug needs one of them (an iSCSI portal list). */
  servers: { host: string; port: number }[]
  /** SM's error for an unreachable server: [code, message]. */
  failure: [string, string]
}

const NFS_FAILURE: [string, string] = ['SR_BACKEND_FAILURE_73', 'NFS mount error']
const SMB_FAILURE: [string, string] = ['SR_BACKEND_FAILURE_111', 'SMB mount error']
const ISO_FAILURE: [string, string] = [
  'SR_BACKEND_FAILURE_222',
  'Could not mount the directory specified in Device Configuration',
]

/** A device_config key the driver requires; SM fails the plug without it. */
function need(deviceConfig: Record<string, string>, key: string, type: string): string {
  const value = deviceConfig[key]
  if (!value) throw new XapiFailure('SR_BACKEND_FAILURE_1', ['', `${type}: device_config has no ${key}`, ''])
  return value
}

/** `\\host\share` or `//host/share` → host. */
function shareHost(path: string): string {
  return path.replace(/^[\\/]+/, '').split(/[\\/]/)[0] ?? ''
}

/** `server:/path` or `[v6]:/path` → host, as ISOSR parses an NFS location. */
function nfsLocationHost(location: string): string {
  if (location.startsWith('[')) return location.slice(1, location.indexOf(']'))
  return location.split(':')[0] ?? ''
}

function isoTarget(deviceConfig: Record<string, string>): StorageTarget {
  const location = need(deviceConfig, 'location', 'iso')
  const protocol = deviceConfig.type ?? (location.includes(':/') ? 'nfs_iso' : 'cifs')
  if (protocol === 'nfs_iso')
    return { servers: [{ host: nfsLocationHost(location), port: 2049 }], failure: ISO_FAILURE }
  return { servers: [{ host: shareHost(location), port: 445 }], failure: ISO_FAILURE }
}

/** Where an SR's server is, read from the PBD's device_config the way each SM driver reads it. */
export function storageTarget(type: string, deviceConfig: Record<string, string>): StorageTarget {
  switch (type) {
    case 'nfs':
      return { servers: [{ host: need(deviceConfig, 'server', type), port: 2049 }], failure: NFS_FAILURE }
    case 'smb':
    case 'cifs':
      return { servers: [{ host: shareHost(need(deviceConfig, 'server', type)), port: 445 }], failure: SMB_FAILURE }
    case 'iso':
      return isoTarget(deviceConfig)
    case 'lvmoiscsi':
    case 'iscsi':
    case 'gfs2': {
      const port = Number(deviceConfig.port || 3260)
      const hosts = need(deviceConfig, 'target', type)
        .split(',')
        .map(t => t.trim())
      return { servers: hosts.map(host => ({ host, port })), failure: ['SR_BACKEND_FAILURE_68', 'ISCSILogin error'] }
    }
    default:
      throw new XapiFailure('SR_UNKNOWN_DRIVER', [type])
  }
}

export class Storage {
  /** How long a probe waits for the server; SM's own checks use a few seconds. */
  probeTimeoutMs = 2000

  constructor(
    private store: ObjectStore,
    private hosts: Map<string, HostRuntime>,
    private timeline: Timeline,
  ) {}

  async plug(pbdRef: string): Promise<void> {
    const pbd = this.store.get('PBD', pbdRef)
    if (pbd.currently_attached === true) return
    const host = this.hosts.get(pbd.host as string)
    if (!host) throw new XapiFailure('HANDLE_INVALID', ['host', pbd.host as string])
    const sr = this.store.get('SR', pbd.SR as string)
    const target = storageTarget(sr.type as string, pbd.device_config as Record<string, string>)
    const { server, reason } = await this.firstAnswering(host, target)
    if (!server) {
      const first = target.servers[0]!
      this.timeline.record('pbd.plug-failed', {
        host: host.uuid,
        detail: { pbd: pbd.uuid, server: first.host, port: first.port, reason },
      })
      const [code, message] = target.failure
      throw new XapiFailure(code, ['', `${message} [opterr=${first.host}:${first.port} ${reason}]`, ''])
    }
    this.store.update('PBD', pbdRef, { currently_attached: true })
    this.timeline.record('pbd.plugged', {
      host: host.uuid,
      detail: { pbd: pbd.uuid, server: server.host, port: server.port },
    })
  }

  private async firstAnswering(
    host: HostRuntime,
    target: StorageTarget,
  ): Promise<{ server?: { host: string; port: number }; reason: string }> {
    let reason = ''
    for (const server of target.servers) {
      const probe = await probeTcp(host.netns, server.host, server.port, this.probeTimeoutMs)
      if (probe.ok) return { server, reason: '' }
      reason = probe.reason
    }
    return { reason }
  }

  unplug(pbdRef: string): void {
    const pbd = this.store.get('PBD', pbdRef)
    if (pbd.currently_attached !== true) return
    this.store.update('PBD', pbdRef, { currently_attached: false })
    const host = this.hosts.get(pbd.host as string)
    this.timeline.record('pbd.unplugged', { host: host?.uuid, detail: { pbd: pbd.uuid } })
  }
}
