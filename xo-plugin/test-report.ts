// The Test button's report: per binding, is its pool connected, is the host plugin on
// every host of the pool (and which version), for a running VM, does its host hold
// what the configuration wants (the host plugin's `status` drift), and how the latest
// re-attachment of the binding's SRs went, and the alerts the pool's hosts left in xapi.

import { PLUGIN_NAME } from '../shared/version.ts'
import type { RevertOutcome } from '../shared/results.ts'
import type { RevertNote } from './converger.ts'
import { type DesiredBinding, desiredForPool } from './desired.ts'
import { type PluginArgs, canonicalArgs } from '../shared/plugin-args.ts'
import { describePause } from '../shared/pause.ts'
import { type HostPluginClient, type VersionResult, checkHostPlugin, describeError } from './host-plugin.ts'
import type { ResolvedBinding, Resolution } from './resolve.ts'
import { type EffectiveConfig, writtenOn } from './effective-config.ts'
import { vifReportLines } from './firewall-vifs.ts'
import { type AlertLines, alertLines, isRevertAlertOf } from './alert-lines.ts'
import { type SrPlugger, type SrState, summarizeAttempt } from './sr-plugger.ts'
import { type HostRecord, PoolIndex, type VmRecord, type XapiConnection, type XapiRecord } from './xapi-types.ts'

export interface BindingReport {
  label: string
  ok: boolean
  lines: string[]
}

export interface TestReport {
  ok: boolean
  bindings: BindingReport[]
  text: string
}

/** A change Xen Orchestra is confirming now, through a new connection to its host. */
export interface ConfirmingNote {
  deadline: string
  /** Why its latest attempt failed, once one did. */
  lastFailure?: string
}

export interface ReportInput {
  resolution: Resolution
  gatewayCheckSeconds: number
  /** The configuration XO converges each pool on: the pool's own when a host wrote it. */
  effective?: (poolId: string) => EffectiveConfig | undefined
  getXapi: (poolId: string) => XapiConnection | undefined
  client: HostPluginClient
  /** The latest plug-srs outcomes, per host and SR. */
  srStates: Pick<SrPlugger, 'state' | 'statesOf'>
  /** Changes Xen Orchestra could not confirm, by host/bridge key (the converger's). */
  reverts?: ReadonlyMap<string, RevertNote>
  /** Changes Xen Orchestra is confirming now, by host/bridge key. */
  confirming?: ReadonlyMap<string, ConfirmingNote>
  /** 0-based; undefined = every binding. */
  only?: number
}

function describeStep(step: Record<string, unknown>): string {
  const { action, ...rest } = step
  const details = Object.entries(rest)
    .filter(([key, value]) => value !== undefined && key !== 'previous' && typeof value !== 'object')
    .map(([key, value]) => `${key}=${String(value)}`)
  return `${String(action)} ${details.join(' ')}`.trim()
}

/** What the host's own `version` says is wrong: a pause (nothing is done there) or a half install. */
function hostProblems(version: VersionResult): string[] {
  const problems: string[] = []
  if (version.paused)
    problems.push(`${describePause(version.paused)} (nothing is applied there; \`vif-ip-binder resume\` on the host)`)
  const installed = version.installed
  if (installed?.half) {
    const missing = Object.entries(installed.parts).filter(([, present]) => !present)
    problems.push(`half installed: no ${missing.map(([part]) => part).join(', no ')} (reinstall the RPM on that host)`)
  }
  return problems
}

async function hostLines(
  client: HostPluginClient,
  xapi: XapiConnection,
  hosts: HostRecord[],
  report: BindingReport,
): Promise<void> {
  const checks = await Promise.all(hosts.map(host => checkHostPlugin(client, xapi, host.$ref)))
  hosts.forEach((host, i) => {
    const check = checks[i]!
    if (check.ok) {
      report.lines.push(
        `host ${JSON.stringify(host.name_label)}: ${PLUGIN_NAME} ${check.version.version} (protocol ${check.version.protocol})`,
      )
      for (const problem of hostProblems(check.version)) {
        report.ok = false
        report.lines.push(`host ${JSON.stringify(host.name_label)}: PROBLEM: ${problem}`)
      }
    } else {
      report.ok = false
      report.lines.push(`host ${JSON.stringify(host.name_label)}: PROBLEM: ${check.message}`)
    }
  })
}

function srName(index: PoolIndex, uuid: string, state?: SrState): string {
  const name = index.uuid<XapiRecord & { name_label: string }>(uuid, 'SR')?.name_label
  const answered = state?.latest?.kind === 'answer' ? state.latest.outcome.name : undefined
  return JSON.stringify(name ?? answered ?? uuid)
}

/** `[ok, text]` of one SR on one host: running, latest outcome, or never tried. */
function srStateText(state: SrState | undefined): [boolean, string] {
  const parts: string[] = []
  let ok = true
  if (state?.latest) {
    const summary = summarizeAttempt(state.latest)
    ok = summary.ok
    parts.push(`${summary.text} (at ${state.latest.at.toISOString()})`)
  }
  if (state?.runningSince) parts.push(`plugging now (since ${state.runningSince.toISOString()})`)
  if (parts.length === 0) parts.push('not tried yet')
  return [ok, parts.join('; ')]
}

/**
 * The binding's SRs on the host running its VM: a failed or unreachable one is a problem.
 * With the VM not running, what each host last did is only shown.
 */
function srLines(
  input: ReportInput,
  index: PoolIndex,
  resolved: ResolvedBinding,
  host: HostRecord | undefined,
  report: BindingReport,
): void {
  for (const { sr } of resolved.binding.srs) {
    if (host) {
      const state = input.srStates.state(host.uuid, sr)
      const [ok, text] = srStateText(state)
      if (!ok) report.ok = false
      report.lines.push(
        `${ok ? '' : 'PROBLEM: '}SR ${srName(index, sr, state)} on host ${JSON.stringify(host.name_label)}: ${text}`,
      )
      continue
    }
    const tried = input.srStates.statesOf(sr)
    if (tried.length === 0) report.lines.push(`SR ${srName(index, sr)}: not tried yet`)
    for (const [hostUuid, state] of tried) {
      const hostName = index.uuid<HostRecord>(hostUuid, 'host')?.name_label ?? hostUuid
      report.lines.push(
        `SR ${srName(index, sr, state)} on host ${JSON.stringify(hostName)}, last time the VM ran there: ${srStateText(state)[1]}`,
      )
    }
  }
}

/**
 * What the host is compared with: XO's binding, or, in a pool whose own configuration
 * (written on a host) is in effect, that configuration's binding of the same VM and network
 * (undefined when it binds them not: then nothing should be bound).
 */
function inEffect(
  input: ReportInput,
  xapi: XapiConnection,
  resolved: ResolvedBinding,
  report: BindingReport,
): { resolved: ResolvedBinding; gatewayCheckSeconds: number } | undefined {
  const effective = input.effective?.(resolved.poolId)
  if (effective?.source !== 'pool') return { resolved, gatewayCheckSeconds: input.gatewayCheckSeconds }
  const by = effective.writtenBy ? `, ${writtenOn(xapi, effective.writtenBy)}` : ''
  report.lines.push(
    `configuration in effect: the pool's own${by}, not XO's settings (saving XO's settings replaces it); the host is compared with it`,
  )
  const same = effective.resolved.find(r => r.vmUuid === resolved.vmUuid && r.networkUuid === resolved.networkUuid)
  if (!same) report.lines.push("the pool's configuration does not bind this VM and network: nothing is bound for it")
  return same && { resolved: same, gatewayCheckSeconds: effective.gatewayCheckSeconds }
}

async function bindingReport(input: ReportInput, index: number): Promise<BindingReport | undefined> {
  const { resolution, client } = input
  const unresolved = resolution.unresolved.find(u => u.index === index)
  if (unresolved) return { label: unresolved.label, ok: false, lines: [`PROBLEM: ${unresolved.error.message}`] }
  const resolved = resolution.resolved.find(r => r.index === index)
  if (!resolved) return undefined
  const report: BindingReport = { label: resolved.label, ok: true, lines: [] }
  const xapi = input.getXapi(resolved.poolId)
  if (!xapi) {
    report.ok = false
    report.lines.push(`PROBLEM: pool ${resolved.poolId} is not connected to Xen Orchestra`)
    return report
  }
  const index_ = new PoolIndex(xapi)
  report.lines.push(`pool ${JSON.stringify(xapi.pool?.name_label ?? '?')}: connected`)
  await hostLines(client, xapi, index_.all<HostRecord>('host'), report)
  const alerts = alertLines(index_)
  report.lines.push(...alerts.lines)
  if (!alerts.ok) report.ok = false
  const vm = index_.uuid<VmRecord>(resolved.vmUuid, 'VM')
  if (!vm) {
    report.ok = false
    report.lines.push(`PROBLEM: VM ${resolved.vmUuid} no longer exists`)
    return report
  }
  report.lines.push(...vifReportLines(index_, resolved))
  const compared = inEffect(input, xapi, resolved, report)
  if (!compared) return report
  const desired = [...desiredForPool(index_, [compared.resolved], compared.gatewayCheckSeconds).bindings.values()][0]
  if (!desired) {
    report.lines.push(
      `VM ${JSON.stringify(vm.name_label)} is ${vm.power_state.toLowerCase()}${vm.power_state === 'Running' ? ' but its VIF on the network is not attached' : ''}: nothing should be bound`,
    )
    srLines(input, index_, compared.resolved, undefined, report)
    return report
  }
  report.lines.push(
    `VM ${JSON.stringify(vm.name_label)} runs on host ${JSON.stringify(desired.hostName)}, VIF attached, bridge ${desired.bridge}`,
  )
  if (desired.noManagementPif)
    report.lines.push(
      `host ${JSON.stringify(desired.hostName)} has no management PIF: the management address is not mirrored`,
    )
  srLines(input, index_, compared.resolved, index_.uuid<HostRecord>(desired.hostUuid, 'host'), report)
  if (await statusLines(input, xapi, desired, report)) dropRevertAlert(report, alerts, desired)
  return report
}

/** The host's alert of a revert the report tells already, with Xen Orchestra's side of it. */
function dropRevertAlert(report: BindingReport, alerts: AlertLines, desired: DesiredBinding): void {
  const told = alerts.entries.filter(e => isRevertAlertOf(e.message, desired.hostUuid, desired.bridge))
  const lines = new Set(told.map(e => e.line))
  report.lines = report.lines.filter(line => !lines.has(line))
}

const WHY_UNCONFIRMED =
  "either the configured binding cuts the host off from Xen Orchestra (correct it and save the configuration again), or Xen Orchestra cannot reach this host at that address at all (NAT, another name: map it in hostUrls in xo-server's config.toml)"

/**
 * A change of this binding that its host reverted, as the host and Xen Orchestra tell it:
 * one line. True when there is one.
 */
function revertLine(
  desired: DesiredBinding,
  lastRevert: RevertOutcome | undefined,
  note: RevertNote | undefined,
  report: BindingReport,
): boolean {
  const host = JSON.stringify(desired.hostName)
  const byHost = lastRevert?.bridges.includes(desired.bridge) ? lastRevert : undefined
  if (!byHost && !note) return false
  report.ok = false
  const reverted = byHost
    ? `host ${host} reverted an unconfirmed change of ${desired.bridge} at ${byHost.revertedAt} (${byHost.reason})`
    : `host ${host} reverted the change of ${desired.bridge} at ${note!.deadline}`
  report.lines.push(
    note
      ? `PROBLEM: ${reverted}: Xen Orchestra could not confirm it (${note.reason}): ${WHY_UNCONFIRMED}`
      : `PROBLEM: ${reverted}`,
  )
  return true
}

/**
 * A change waiting for its confirmation: a problem once Xen Orchestra failed to confirm it,
 * or when it is not Xen Orchestra's to confirm (nothing will, and the host reverts it).
 */
function waitingLine(
  desired: DesiredBinding,
  deadline: string,
  note: ConfirmingNote | undefined,
  report: BindingReport,
) {
  const problem = !note || note.lastFailure !== undefined
  if (problem) report.ok = false
  const latest = note?.lastFailure ? ` (Xen Orchestra's latest attempt: ${note.lastFailure})` : ''
  report.lines.push(
    `${problem ? 'PROBLEM: ' : ''}a change of ${desired.bridge} on host ${JSON.stringify(desired.hostName)} waits for its confirmation until ${deadline}: unconfirmed, the host reverts it then${latest}`,
  )
}

/**
 * What the host holds for the binding, against what Xen Orchestra wants there. True when
 * it told a revert of the binding's change.
 */
async function statusLines(
  input: ReportInput,
  xapi: XapiConnection,
  desired: DesiredBinding,
  report: BindingReport,
): Promise<boolean> {
  const confirming = input.confirming?.get(desired.key)
  let status
  let reverted = false
  try {
    const answer = await input.client.status(xapi, desired.hostRef, desired.bridge)
    reverted = revertLine(desired, answer.lastRevert, input.reverts?.get(desired.key), report)
    const pending = answer.confirmation
    if (pending && Object.hasOwn(pending.before, desired.bridge))
      waitingLine(desired, pending.deadline, confirming, report)
    status = answer.bridges[desired.bridge]
  } catch (error) {
    // The host does not answer now: perhaps the very change Xen Orchestra is confirming.
    if (confirming) waitingLine(desired, confirming.deadline, confirming, report)
    report.ok = false
    report.lines.push(`PROBLEM: status on host ${JSON.stringify(desired.hostName)} failed: ${describeError(error)}`)
    return reverted
  }
  if (!status?.recorded) {
    report.ok = false
    report.lines.push(
      `PROBLEM: nothing is applied on host ${JSON.stringify(desired.hostName)} for ${desired.bridge} yet`,
    )
    return reverted
  }
  heldLine(desired, status.recorded.desired, reverted, report)
  const kernel = `addresses ${status.kernel.addresses.join(', ') || 'none'}; default routes: IPv4 ${status.kernel.defaultRoutes.ipv4}, IPv6 ${status.kernel.defaultRoutes.ipv6}`
  if (status.inSync) {
    report.lines.push(`in sync: ${kernel}`)
  } else {
    report.ok = false
    report.lines.push(
      `PROBLEM: drift on host ${JSON.stringify(desired.hostName)}: ${status.drift.map(s => describeStep(s as unknown as Record<string, unknown>)).join('; ') || 'none'}`,
    )
    if (status.problem) report.lines.push(`PROBLEM: ${status.problem}`)
    report.lines.push(`kernel: ${kernel}`)
  }
  return reverted
}

/** Other arguments than configured: after a revert, what the host keeps by design. */
function heldLine(desired: DesiredBinding, held: PluginArgs, reverted: boolean, report: BindingReport): void {
  if (canonicalArgs(held) === canonicalArgs(desired.args)) return
  const host = JSON.stringify(desired.hostName)
  if (reverted) {
    report.lines.push(`host ${host} keeps its arguments from before the reverted change: ${JSON.stringify(held)}`)
    return
  }
  report.ok = false
  report.lines.push(
    `PROBLEM: host ${host} holds other arguments than configured (an apply is pending or failed): ${JSON.stringify(held)}`,
  )
}

export async function buildTestReport(input: ReportInput): Promise<TestReport> {
  const count = input.resolution.resolved.length + input.resolution.unresolved.length
  const indexes = input.only === undefined ? [...Array(count).keys()] : [input.only]
  const bindings = (await Promise.all(indexes.map(i => bindingReport(input, i)))).filter(
    (r): r is BindingReport => r !== undefined,
  )
  const ok = bindings.every(b => b.ok)
  const text = [
    ok ? 'vif-ip-binder: every binding is in order.' : 'vif-ip-binder: some bindings need attention.',
    ...bindings.map(b => [`${b.ok ? '✔' : '✘'} ${b.label}`, ...b.lines.map(l => `    ${l}`)].join('\n')),
  ].join('\n')
  return { ok, bindings, text }
}
