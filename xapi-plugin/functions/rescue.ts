// rescue: a host that came up disabled starts nothing, not even the firewall VM its own
// management network depends on. When the pool's configuration opts in, rescue reads why
// the host is disabled (rescue-policy.ts) and enables it only when xapi itself would have
// once its network came back; then it starts the bound (firewall) VMs first, retrying a
// start that fails only because storage is not back yet, then the auto_poweron VMs whose
// storage is attached (auto-start.ts). The result says which case applied.

import { setTimeout as sleep } from 'node:timers/promises'
import type { CallContext } from './context.ts'
import { raiseAlert } from '../engine/alerts.ts'
import { type LocalXapi, XapiError, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { readPoolBindings } from '../xapi/pool-bindings.ts'
import type { RescueResult, RescueStep } from '../../shared/results.ts'
import { NULL_REF } from '../../shared/xapi-ids.ts'
import { readLocalDb } from '../xapi/local-db.ts'
import { type VmRecord as AutoStartVm, startHeldBack } from './auto-start.ts'
import { type DisabledHostFacts, type RescueVerdict, judgeDisabledHost } from './rescue-policy.ts'

export interface RescueTiming {
  /** How long host.enable may keep answering HOST_STILL_BOOTING. */
  enableSeconds: number
  /** How long one VM start may keep failing for storage reasons. */
  startSeconds: number
  retryMs: number
}

export const DEFAULT_RESCUE_TIMING: RescueTiming = { enableSeconds: 300, startSeconds: 180, retryMs: 2000 }

type VmRecord = Pick<
  AutoStartVm,
  'uuid' | 'name_label' | 'power_state' | 'affinity' | 'is_a_template' | 'is_a_snapshot' | 'is_control_domain'
>

interface HostRecord {
  enabled: boolean
  PBDs: string[]
  other_config: Record<string, string>
  pending_guidances?: string[]
}

/** Errors that mean "storage is not attached yet": worth retrying while plug-srs works. */
export function isStorageNotReady(error: unknown): boolean {
  if (!(error instanceof XapiError)) return false
  return (
    /^(SR_|VDI_|PBD_)/.test(error.code) ||
    ['VM_REQUIRES_SR', 'VM_REQUIRES_VDI', 'SR_BACKEND_FAILURE'].includes(error.code)
  )
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

/** The firewall first: everything else (storage, XO, the admin) is behind it. */
async function startBound(
  xapi: LocalXapi,
  hostRef: string,
  vmUuids: string[],
  result: RescueResult,
  ctx: CallContext,
  timing: RescueTiming,
): Promise<void> {
  for (const uuid of vmUuids) {
    const ref = await xapi.call<string>('VM.get_by_uuid', uuid).catch(() => undefined)
    if (!ref) continue
    const vm = await xapi.call<VmRecord>('VM.get_record', ref)
    const step: RescueStep = { vm: vm.uuid, name: vm.name_label, role: 'bound', outcome: 'skipped' }
    step.reason = startableHere(vm, hostRef)
    if (!step.reason) {
      const started = await startHere(xapi, ref, hostRef, timing)
      Object.assign(step, {
        outcome: started.ok ? 'started' : 'failed',
        attempts: started.attempts,
        reason: started.reason,
      })
      ctx.log.log(started.ok ? 'info' : 'err', `rescue: bound VM ${started.ok ? 'started' : 'failed to start'}`, {
        vm: vm.uuid,
        name: vm.name_label,
        reason: started.reason,
      })
    }
    result.steps.push(step)
  }
}

/** What decides whether this host may be enabled, read from xapi and local.db. */
async function disabledHostFacts(xapi: LocalXapi, root: string, hostRef: string): Promise<DisabledHostFacts> {
  const host = await xapi.call<HostRecord>('host.get_record', hostRef)
  const poolRef = (await xapi.call<string[]>('pool.get_all'))[0]!
  const detachedSrs: string[] = []
  for (const pbd of host.PBDs) {
    const record = await xapi.call<{ SR: string; currently_attached: boolean }>('PBD.get_record', pbd)
    if (!record.currently_attached) detachedSrs.push(await xapi.call<string>('SR.get_name_label', record.SR))
  }
  return {
    enabled: host.enabled,
    localDb: readLocalDb(root),
    pendingGuidances: host.pending_guidances ?? [],
    hostOtherConfig: host.other_config,
    haEnabled: await xapi.call<boolean>('pool.get_ha_enabled', poolRef),
    detachedSrs,
  }
}

/**
 * host.enable, retried while xapi is still starting (HOST_STILL_BOOTING), each time after
 * asking again whether xapi's own rule still lets the host be enabled.
 */
async function enableHost(
  xapi: LocalXapi,
  root: string,
  hostRef: string,
  timing: RescueTiming,
): Promise<RescueVerdict> {
  const deadline = Date.now() + timing.enableSeconds * 1000
  for (;;) {
    const verdict = judgeDisabledHost(await disabledHostFacts(xapi, root, hostRef))
    if (!verdict.enable) return verdict
    try {
      await xapi.call('host.enable', hostRef)
      return verdict
    } catch (error) {
      if (!(error instanceof XapiError && error.code === 'HOST_STILL_BOOTING') || Date.now() > deadline) throw error
      await sleep(timing.retryMs)
    }
  }
}

export async function rescue(ctx: CallContext, timing: RescueTiming = DEFAULT_RESCUE_TIMING): Promise<RescueResult> {
  return withLocalXapi(ctx.env.root, ctx.session, async xapi => {
    const host = await thisHost(ctx.env.root, xapi)
    const result: RescueResult = { host: host.uuid, case: 'rescue-off', acted: false, reason: '', steps: [] }
    const pool = await readPoolBindings(xapi)
    const verdict = judgeDisabledHost(await disabledHostFacts(xapi, ctx.env.root, host.ref))
    if (!pool?.config.rescue) {
      result.reason = `rescue is off (turn it on in the XO plugin settings); ${verdict.reason}`
      return result
    }
    Object.assign(result, { case: verdict.case, reason: verdict.reason })
    if (!verdict.enable) {
      if (verdict.case !== 'enabled') ctx.log.log('warning', `rescue: left disabled: ${verdict.reason}`)
      return result
    }
    const enabled = await enableHost(xapi, ctx.env.root, host.ref, timing)
    Object.assign(result, {
      case: enabled.case,
      reason: enabled.reason,
      acted: enabled.enable,
      enabled: enabled.enable,
    })
    if (!enabled.enable) return result
    ctx.log.log('warning', 'rescue: host was disabled, enabled it', { host: host.uuid, reason: enabled.reason })
    await startBound(xapi, host.ref, [...new Set(pool.bindings.map(b => b.vm))], result, ctx, timing)
    for (const step of await startHeldBack(xapi, host, ctx)) {
      result.steps.push({
        vm: step.vm,
        name: step.name,
        role: 'auto-start',
        outcome: step.outcome,
        reason: step.reason,
      })
    }
    await raiseAlert(ctx, { cause: 'rescued', subject: host.uuid, body: rescueBody(result) }, xapi)
    return result
  })
}

/** What the rescue did, for the admin who finds the host enabled and wonders why. */
function rescueBody(result: RescueResult): string {
  const outcome = (outcome: string) =>
    result.steps.filter(s => s.outcome === outcome).map(s => `${JSON.stringify(s.name)} (${s.role})`)
  const started = outcome('started')
  const failed = outcome('failed')
  return [
    `this host came up disabled and the rescue enabled it: ${result.reason}`,
    started.length ? `started ${started.join(', ')}` : 'started no VM',
    ...(failed.length ? [`failed to start ${failed.join(', ')}`] : []),
  ].join('; ')
}
