// rescue: a host that came up disabled ("maintenance mode") starts nothing, not even the
// firewall VM that its own management network depends on. When the pool's configuration
// opts in, rescue enables the host, starts the bound (firewall) VMs first, then the
// auto-start VMs in `order`, waiting each one's `start_delay` (xapi's own auto-start
// ignores `order`), and retries a start that fails only because storage is not back yet.

import { setTimeout as sleep } from 'node:timers/promises'
import type { CallContext } from './context.ts'
import { type LocalXapi, XapiError, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { readPoolBindings } from '../xapi/pool-bindings.ts'
import type { RescueResult, RescueStep } from '../../shared/results.ts'
import { NULL_REF } from '../../shared/xapi-ids.ts'

export interface RescueTiming {
  /** How long host.enable may keep answering HOST_STILL_BOOTING. */
  enableSeconds: number
  /** How long one VM start may keep failing for storage reasons. */
  startSeconds: number
  retryMs: number
}

export const DEFAULT_RESCUE_TIMING: RescueTiming = { enableSeconds: 300, startSeconds: 180, retryMs: 2000 }

interface VmRecord {
  uuid: string
  name_label: string
  power_state: string
  affinity: string
  is_a_template: boolean
  is_a_snapshot: boolean
  is_control_domain: boolean
  other_config: Record<string, string>
  order: string | number
  start_delay: string | number
}

/** Errors that mean "storage is not attached yet": worth retrying while plug-srs works. */
export function isStorageNotReady(error: unknown): boolean {
  if (!(error instanceof XapiError)) return false
  return (
    /^(SR_|VDI_|PBD_)/.test(error.code) ||
    ['VM_REQUIRES_SR', 'VM_REQUIRES_VDI', 'SR_BACKEND_FAILURE'].includes(error.code)
  )
}

async function enableHost(xapi: LocalXapi, hostRef: string, timing: RescueTiming): Promise<void> {
  const deadline = Date.now() + timing.enableSeconds * 1000
  for (;;) {
    try {
      return await xapi.call('host.enable', hostRef)
    } catch (error) {
      if (!(error instanceof XapiError && error.code === 'HOST_STILL_BOOTING') || Date.now() > deadline) throw error
      await sleep(timing.retryMs)
    }
  }
}

async function startHere(
  xapi: LocalXapi,
  vmRef: string,
  hostRef: string,
  timing: RescueTiming,
): Promise<{ ok: boolean; attempts: number; reason?: string }> {
  const deadline = Date.now() + timing.startSeconds * 1000
  for (let attempts = 1; ; attempts++) {
    try {
      await xapi.callSlow(120_000, 'VM.start_on', vmRef, hostRef, false, false)
      return { ok: true, attempts }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      if (!isStorageNotReady(error) || Date.now() + timing.retryMs > deadline) return { ok: false, attempts, reason }
      await sleep(timing.retryMs)
    }
  }
}

/** A VM this host may start: halted, a real VM, with no affinity elsewhere. */
function startableHere(vm: VmRecord, hostRef: string): string | undefined {
  if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) return 'not a VM'
  if (vm.power_state !== 'Halted') return `already ${vm.power_state.toLowerCase()}`
  if (vm.affinity !== NULL_REF && vm.affinity !== '' && vm.affinity !== hostRef)
    return 'its home server is another host'
  return undefined
}

export async function rescue(ctx: CallContext, timing: RescueTiming = DEFAULT_RESCUE_TIMING): Promise<RescueResult> {
  return withLocalXapi(ctx.env.root, ctx.session, async xapi => {
    const host = await thisHost(ctx.env.root, xapi)
    const result: RescueResult = { host: host.uuid, acted: false, reason: '', steps: [] }
    const pool = await readPoolBindings(xapi)
    if (!pool?.config.rescue) {
      result.reason = 'rescue is off (turn it on in the XO plugin settings)'
      return result
    }
    if (await xapi.call<boolean>('host.get_enabled', host.ref)) {
      result.reason = 'the host is enabled: nothing to rescue'
      return result
    }
    result.acted = true
    result.reason = 'the host came up disabled'
    await enableHost(xapi, host.ref, timing)
    result.enabled = true
    ctx.log.log('warning', 'rescue: host was disabled, enabled it', { host: host.uuid })

    const records = await xapi.call<Record<string, VmRecord>>('VM.get_all_records')
    const byUuid = new Map(Object.entries(records).map(([ref, vm]) => [vm.uuid, { ref, vm }]))
    const boundUuids = [...new Set(pool.bindings.map(b => b.vm))]

    const start = async (ref: string, vm: VmRecord, role: RescueStep['role']): Promise<boolean> => {
      const skip = startableHere(vm, host.ref)
      if (skip) {
        result.steps.push({ vm: vm.uuid, name: vm.name_label, role, outcome: 'skipped', reason: skip })
        return false
      }
      const started = await startHere(xapi, ref, host.ref, timing)
      result.steps.push({
        vm: vm.uuid,
        name: vm.name_label,
        role,
        outcome: started.ok ? 'started' : 'failed',
        attempts: started.attempts,
        reason: started.reason,
      })
      ctx.log.log(started.ok ? 'info' : 'err', `rescue: ${role} VM ${started.ok ? 'started' : 'failed to start'}`, {
        vm: vm.uuid,
        name: vm.name_label,
        reason: started.reason,
      })
      return started.ok
    }

    // The firewall first: everything else (storage, XO, the admin) is behind it.
    for (const uuid of boundUuids) {
      const found = byUuid.get(uuid)
      if (found) await start(found.ref, found.vm, 'bound')
    }

    const poolRef = (await xapi.call<string[]>('pool.get_all'))[0]!
    const poolAutoStart =
      (await xapi.call<Record<string, string>>('pool.get_other_config', poolRef)).auto_poweron === 'true'
    const autoStart = [...byUuid.values()]
      .filter(({ vm }) => vm.other_config.auto_poweron === 'true' && !boundUuids.includes(vm.uuid))
      .sort((a, b) => Number(a.vm.order) - Number(b.vm.order) || a.vm.name_label.localeCompare(b.vm.name_label))
    for (const { ref, vm } of autoStart) {
      if (!poolAutoStart) {
        result.steps.push({
          vm: vm.uuid,
          name: vm.name_label,
          role: 'auto-start',
          outcome: 'skipped',
          reason: 'the pool has auto_poweron off',
        })
        continue
      }
      if ((await start(ref, vm, 'auto-start')) && Number(vm.start_delay) > 0) await sleep(Number(vm.start_delay) * 1000)
    }
    return result
  })
}
