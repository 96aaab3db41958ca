// Starting what storage held back. xapi auto-starts `auto_poweron` VMs once, early
// (xapi-autostart-vms: pool and VM other_config:auto_poweron=true, `xe vm-start --multiple`,
// errors swallowed), while the firewall is still booting: a VM whose disks are on NFS, SMB
// or iSCSI fails and nothing retries. Once plug-srs (or rescue) has its SRs back, this
// starts such VMs as xapi would have: in `order` (which xapi's own auto-start ignores), with
// VM.start waiting the VM's `start_delay` itself, once per boot, never a VM that ran since
// boot (an admin stopped it), each start's outcome reported.

import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AutoStartStep } from '../../shared/results.ts'
import { clearAlerts, raiseAlert } from '../engine/alerts.ts'
import { NULL_REF } from '../../shared/xapi-ids.ts'
import { type HostIdentity, type LocalXapi, XapiError } from '../xapi/local-xapi.ts'
import type { CallContext } from './context.ts'

export interface VmRecord {
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
  VBDs: string[]
  metrics: string
}

interface Candidate {
  ref: string
  vm: VmRecord
  srs: string[]
}

/** Where "started once this boot" is remembered: /var/run is emptied at every boot. */
export const AUTO_STARTED_DIR = 'var/run/vif-ip-binder/auto-started'

/** Claims a VM for this boot; false when some earlier call (hook, boot, XO) already did. */
function claimOncePerBoot(root: string, vmUuid: string): boolean {
  const dir = join(root, AUTO_STARTED_DIR)
  mkdirSync(dir, { recursive: true })
  try {
    closeSync(openSync(join(dir, vmUuid), 'wx'))
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/** When this host booted (seconds): xapi's host.other_config:boot_time, else the kernel's btime. */
async function bootTime(xapi: LocalXapi, host: HostIdentity): Promise<number> {
  const recorded = Number((await xapi.call<Record<string, string>>('host.get_other_config', host.ref)).boot_time)
  if (Number.isFinite(recorded) && recorded > 0) return recorded
  const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))
  return btime ? Number(btime[1]) : 0
}

/** The SRs holding this VM's disks (empty CD drives hold nothing). */
async function diskSrs(xapi: LocalXapi, vm: VmRecord): Promise<string[]> {
  const srs = new Set<string>()
  for (const vbd of vm.VBDs) {
    const record = await xapi.call<{ VDI: string; empty: boolean }>('VBD.get_record', vbd)
    if (record.empty || record.VDI === NULL_REF) continue
    srs.add(await xapi.call<string>('VDI.get_SR', record.VDI))
  }
  return [...srs]
}

/** Is each SR attached on this host? */
async function attachedHere(xapi: LocalXapi, host: HostIdentity, srs: string[]): Promise<boolean> {
  for (const sr of srs) {
    const pbds = await xapi.call<string[]>('SR.get_PBDs', sr)
    let attached = false
    for (const pbd of pbds) {
      const record = await xapi.call<{ host: string; currently_attached: boolean }>('PBD.get_record', pbd)
      if (record.host === host.ref && record.currently_attached) attached = true
    }
    if (!attached) return false
  }
  return true
}

/**
 * The halted auto_poweron VMs this host would start: at home here (or homeless, when this
 * host is the pool master, so that two hosts never race for one VM), with a disk on one of
 * `heldBackBy` when given, and every disk's SR attached here now.
 */
async function candidates(
  xapi: LocalXapi,
  host: HostIdentity,
  master: string,
  heldBackBy: Set<string> | undefined,
): Promise<Candidate[]> {
  const records = await xapi.call<Record<string, VmRecord>>('VM.get_all_records')
  const found: Candidate[] = []
  for (const [ref, vm] of Object.entries(records)) {
    if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain || vm.power_state !== 'Halted') continue
    if (vm.other_config.auto_poweron !== 'true') continue
    const home = vm.affinity && vm.affinity !== NULL_REF ? vm.affinity : master
    if (home !== host.ref) continue
    const srs = await diskSrs(xapi, vm)
    if (heldBackBy && !srs.some(sr => heldBackBy.has(sr))) continue
    if (await attachedHere(xapi, host, srs)) found.push({ ref, vm, srs })
  }
  return found.sort((a, b) => Number(a.vm.order) - Number(b.vm.order) || a.vm.name_label.localeCompare(b.vm.name_label))
}

/** xapi's dateTime (`20261201T20:58:01Z`, the ISO 8601 basic form) or an extended ISO string, in seconds. */
export function xapiSeconds(text: string): number {
  const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$/.exec(text)
  const iso = basic ? `${basic[1]}-${basic[2]}-${basic[3]}T${basic[4]}:${basic[5]}:${basic[6]}Z` : text
  return Date.parse(iso) / 1000
}

/** Why this VM must not be started now, read just before its turn; undefined: start it. */
async function reasonToSkip(xapi: LocalXapi, ref: string, bootedAt: number): Promise<string | undefined> {
  const vm = await xapi.call<VmRecord>('VM.get_record', ref)
  if (vm.power_state !== 'Halted') return `already ${vm.power_state.toLowerCase()}`
  const lastStart = await xapi.call<string>('VM_metrics.get_start_time', vm.metrics).catch(() => '')
  // xapi only moves start_time forward: a halted VM that started after boot was stopped since.
  if (xapiSeconds(lastStart) > bootedAt) return 'it ran since this boot and was stopped: left as the admin left it'
  return undefined
}

async function startOne(xapi: LocalXapi, candidate: Candidate, ctx: CallContext): Promise<AutoStartStep> {
  const { vm } = candidate
  const step: AutoStartStep = { vm: vm.uuid, name: vm.name_label, order: Number(vm.order), outcome: 'started' }
  step.startedAt = new Date().toISOString()
  try {
    // VM.start, as xapi-autostart-vms does: xapi picks the host and waits start_delay in the call.
    await xapi.callSlow(120_000 + Number(vm.start_delay) * 1000, 'VM.start', candidate.ref, false, false)
    ctx.log.log('info', 'auto-start: started a VM storage held back', { vm: vm.uuid, name: vm.name_label })
    await clearAlerts(ctx, ['auto-start-failed'], vm.uuid, xapi)
  } catch (error) {
    step.outcome = 'failed'
    step.error = error instanceof XapiError ? [error.code, ...error.params] : [(error as Error).message]
    step.reason = `VM.start failed: ${step.error.join(' ')}`
    ctx.log.log('warning', 'auto-start: a VM failed to start', { vm: vm.uuid, name: vm.name_label, error: step.error })
    // Where admins look (XO's alerts, xe message-list); it is not tried again this boot.
    const body = `auto_poweron VM ${JSON.stringify(vm.name_label)} did not start once its storage was back: ${step.reason}`
    await raiseAlert(ctx, { cause: 'auto-start-failed', subject: vm.uuid, objUuid: vm.uuid, body }, xapi)
  }
  return step
}

/**
 * Starts the auto_poweron VMs that xapi would have started and storage held back, when the
 * pool asks for auto-start (pool other_config:auto_poweron=true, as xapi reads it).
 */
export async function startHeldBack(
  xapi: LocalXapi,
  host: HostIdentity,
  ctx: CallContext,
  heldBackBy?: Set<string>,
): Promise<AutoStartStep[]> {
  const poolRef = (await xapi.call<string[]>('pool.get_all'))[0]!
  if ((await xapi.call<Record<string, string>>('pool.get_other_config', poolRef)).auto_poweron !== 'true') return []
  const master = await xapi.call<string>('pool.get_master', poolRef)
  const bootedAt = await bootTime(xapi, host)
  const steps: AutoStartStep[] = []
  for (const candidate of await candidates(xapi, host, master, heldBackBy)) {
    const { vm } = candidate
    const skip = await reasonToSkip(xapi, candidate.ref, bootedAt)
    if (skip || !claimOncePerBoot(ctx.env.root, vm.uuid)) {
      const reason = skip ?? 'already tried once this boot'
      steps.push({ vm: vm.uuid, name: vm.name_label, order: Number(vm.order), outcome: 'skipped', reason })
      continue
    }
    steps.push(await startOne(xapi, candidate, ctx))
  }
  return steps
}
