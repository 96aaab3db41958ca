// dom0's VIF hook: after a VIF joins its bridge (action online) and after it leaves
// (action remove), Xen's vif script runs /etc/xapi.d/vif-hotplug if that file is
// executable, synchronously, inside udev. Here: inside the host's namespace, with the
// plugin environment, output appended to <root>/var/log/vif-hotplug.sim.log (a file, not a
// pipe, so a hook that detaches long work does not hold the VM operation open).

import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { ipBinary } from './netns-tools.ts'
import { pluginEnvironment } from './plugin-runner.ts'
import type { Timeline } from './timeline.ts'
import type { HostRuntime } from './topology.ts'

export const HOOK_TIMEOUT_MS = 60_000

export async function runVifHotplug(
  host: HostRuntime,
  action: 'online' | 'remove',
  vifUuid: string,
  vmUuid: string,
  timeline: Timeline,
): Promise<number | undefined> {
  const path = join(host.root, 'etc/xapi.d/vif-hotplug')
  try {
    await access(path, constants.X_OK)
  } catch {
    return undefined
  }
  const log = join(host.root, 'var/log/vif-hotplug.sim.log')
  timeline.record('hotplug.started', { host: host.uuid, vm: vmUuid, vif: vifUuid, detail: { action } })
  {
    const r = await execa(
      ipBinary(),
      ['netns', 'exec', host.netns, path, '-action', action, '-vifuuid', vifUuid, '-vmuuid', vmUuid],
      {
        env: pluginEnvironment(host.root),
        extendEnv: false,
        stdin: 'ignore',
        stdout: { file: log, append: true },
        stderr: { file: log, append: true },
        reject: false,
        timeout: HOOK_TIMEOUT_MS,
      },
    )
    timeline.record('hotplug.finished', {
      host: host.uuid,
      vm: vmUuid,
      vif: vifUuid,
      detail: { action, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut },
    })
    return r.exitCode
  }
}
