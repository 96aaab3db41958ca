// PBD.plug succeeds only if the SR's server accepts a TCP connection from the host's
// namespace (what the SM driver's mount or login needs first); otherwise the
// SR_BACKEND_FAILURE the SM driver would report for that SR type.

import { XapiFailure } from './errors.ts'
import { probeTcp } from './netns-tools.ts'
import type { ObjectStore } from './store.ts'
import type { Timeline } from './timeline.ts'
import type { HostRuntime } from './topology.ts'

export interface StorageTarget {
  host: string
  port: number
  /** SM's error for an unreachable server: [code, message]. */
  failure: [string, string]
}

/** Where an SR's server is, from its type and the PBD's device_config. */
export function storageTarget(type: string, deviceConfig: Record<string, string>): StorageTarget {
  switch (type) {
    case 'nfs':
    case 'iso':
      return { host: deviceConfig.server ?? '', port: 2049, failure: ['SR_BACKEND_FAILURE_73', 'NFS mount error'] }
    case 'smb':
    case 'cifs': {
      // `\\host\share` (SMB SR) or `//host/share` (location of an ISO SR)
      const path = deviceConfig.server ?? deviceConfig.location ?? ''
      const host = path.replace(/^[\\/]+/, '').split(/[\\/]/)[0] ?? ''
      return { host, port: 445, failure: ['SR_BACKEND_FAILURE_111', 'SMB mount error'] }
    }
    case 'lvmoiscsi':
    case 'iscsi':
    case 'gfs2': {
      const target = (deviceConfig.target ?? '').split(',')[0]!.trim()
      const port = Number(deviceConfig.port ?? 3260)
      return { host: target, port, failure: ['SR_BACKEND_FAILURE_68', 'ISCSILogin error'] }
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
    const probe = await probeTcp(host.netns, target.host, target.port, this.probeTimeoutMs)
    if (!probe.ok) {
      this.timeline.record('pbd.plug-failed', {
        host: host.uuid,
        detail: { pbd: pbd.uuid, server: target.host, port: target.port, reason: probe.reason },
      })
      const [code, message] = target.failure
      throw new XapiFailure(code, ['', `${message} [opterr=${target.host}:${target.port} ${probe.reason}]`, ''])
    }
    this.store.update('PBD', pbdRef, { currently_attached: true })
    this.timeline.record('pbd.plugged', {
      host: host.uuid,
      detail: { pbd: pbd.uuid, server: target.host, port: target.port },
    })
  }

  unplug(pbdRef: string): void {
    const pbd = this.store.get('PBD', pbdRef)
    if (pbd.currently_attached !== true) return
    this.store.update('PBD', pbdRef, { currently_attached: false })
    const host = this.hosts.get(pbd.host as string)
    this.timeline.record('pbd.unplugged', { host: host?.uuid, detail: { pbd: pbd.uuid } })
  }
}
