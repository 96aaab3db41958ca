// What a person at dom0's console reads: a short summary of a result (what changed, what
// is bound, the default route, what is wrong and what to run next). `--json`, and every
// caller that is not a terminal, get the JSON itself; xapi's answers never change.

import type { OpenAlertSummary } from '../../shared/results.ts'

type Value = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

function describeStep(step: Value): string {
  switch (step.action) {
    case 'add-address':
    case 'remove-address':
      return `${step.action === 'add-address' ? 'add' : 'remove'} ${step.cidr} on ${step.dev}`
    case 'add-route':
    case 'remove-route':
      return `${step.action === 'add-route' ? 'add' : 'remove'} route ${step.destination}${step.via ? ` via ${step.via}` : ''} dev ${step.dev}`
    case 'switch-default-route':
    case 'remove-default-route':
      return step.description ?? step.action
    case 'set-sysctl':
      return `set ${step.path} = ${step.value}`
    case 'link-up':
      return `bring ${step.dev} up`
    default:
      return JSON.stringify(step)
  }
}

function changes(list: Value[] | undefined, dryRun: boolean): string[] {
  if (!list?.length) return ['  nothing to change']
  return list.map(step => `  ${dryRun ? 'would ' : ''}${describeStep(step)}`)
}

function pausedLine(value: Value): string[] {
  return value.paused ? [`PAUSED since ${value.paused.at}: ${value.paused.reason} (resume: vif-ip-binder resume)`] : []
}

function applySummary(value: Value): string[] {
  const checks = (value.gatewayChecks ?? []).map((c: Value) => `  gateway ${c.gateway} answered`)
  return [
    `${value.dryRun ? 'dry run: ' : ''}bridge ${value.bridge}: ${value.changes.length} change(s)`,
    ...changes(value.changes, value.dryRun),
    ...checks,
    ...pausedLine(value),
  ]
}

function releaseSummary(value: Value): string[] {
  if (!value.released && !value.dryRun)
    return [`bridge ${value.bridge}: nothing recorded, nothing to release`, ...pausedLine(value)]
  return [
    `${value.dryRun ? 'dry run: ' : ''}released bridge ${value.bridge}`,
    ...changes(value.changes, value.dryRun),
    ...pausedLine(value),
  ]
}

function bridgeLines(name: string, bridge: Value): string[] {
  const kernel = bridge.kernel
  const lines = [`${name}: ${bridge.inSync ? 'in sync' : 'NOT IN SYNC'}${bridge.recorded ? '' : ' (nothing recorded)'}`]
  if (!kernel.exists) lines.push(`  the bridge ${name} does not exist (is the firewall VM running here?)`)
  else lines.push(`  addresses: ${kernel.addresses.join(', ') || 'none'}`)
  lines.push(`  default route: IPv4 ${kernel.defaultRoutes.ipv4}, IPv6 ${kernel.defaultRoutes.ipv6}`)
  if (bridge.problem) lines.push(`  problem: ${bridge.problem}`)
  if (bridge.drift?.length)
    lines.push(
      ...bridge.drift.map((s: Value) => `  drift: ${describeStep(s)}`),
      `  next: vif-ip-binder apply ... (or reconcile) to converge`,
    )
  return lines
}

function installedLine(installed: Value | undefined): string[] {
  if (!installed) return []
  const parts = Object.entries(installed.parts ?? {}).map(([part, ok]) => `${part} ${ok ? 'yes' : 'NO'}`)
  const verdict = installed.complete
    ? ''
    : installed.half
      ? ' (HALF INSTALLED: reinstall the RPM)'
      : ' (no hook, no boot unit: this host recovers only through Xen Orchestra)'
  return [`installed: ${parts.join(', ')}${verdict}`]
}

function statusSummary(value: Value): string[] {
  const names = Object.keys(value.bridges ?? {})
  const lines = names.length
    ? names.flatMap(name => bridgeLines(name, value.bridges[name]))
    : ['no bridge recorded on this host']
  return [...lines, ...pausedLine(value), ...alertLines(value), ...installedLine(value.installed)]
}

function alertLines(value: Value): string[] {
  return ((value.alerts ?? []) as OpenAlertSummary[]).map(
    a =>
      `ALERT ${a.name} (${a.subject}) since ${a.since}${a.repeats ? `, ${a.repeats} more since` : ''}: xe message-list name=${a.name}`,
  )
}

function reconcileSummary(value: Value): string[] {
  if (value.paused) return pausedLine(value).concat('reconcile changed nothing')
  if (!value.configured)
    return [
      `${value.problem ?? 'the pool has no configuration'}: nothing done (vif-ip-binder configure --file bindings.json)`,
    ]
  const applied = value.applied.map(
    (a: Value) => `  ${a.bridge} (VM ${a.vm}): ${a.error ? `FAILED ${a.error.join(' | ')}` : `${a.changes} change(s)`}`,
  )
  const released = value.released.map(
    (r: Value) => `  released ${r.bridge}: ${r.error ? `FAILED ${r.error.join(' | ')}` : `${r.changes} change(s)`}`,
  )
  return [`reconciled host ${value.host}`, ...(applied.length ? applied : ['  no bound VM runs here']), ...released]
}

function configSummary(value: Value): string[] {
  const state = value.dryRun
    ? 'dry run: the pool configuration would be'
    : `pool configuration ${value.outcome ?? value.state}`
  const doc = value.document
  const by = doc?.writtenBy
    ? ` (written by ${doc.writtenBy.by}${doc.writtenBy.host ? ` on host ${doc.writtenBy.host}` : ''} at ${doc.writtenBy.at})`
    : ''
  const lines = [`${state}${by}`]
  if (value.error) lines.push(`  ${value.error.join(' | ')}`)
  for (const b of doc?.bindings ?? [])
    lines.push(
      `  VM ${b.vm} on network ${b.network}: ${b.addresses.join(', ')}${b.gateways.length ? ` via ${b.gateways.join(', ')}` : ''}`,
    )
  return lines
}

const SUMMARIES: Record<string, (value: Value) => string[]> = {
  apply: applySummary,
  release: releaseSummary,
  status: statusSummary,
  reconcile: reconcileSummary,
  configure: configSummary,
  'show-config': configSummary,
  version: value => [
    `${value.name} ${value.version} (protocol ${value.protocol})`,
    ...pausedLine(value),
    ...installedLine(value.installed),
  ],
  pause: value =>
    pausedLine(value).concat(value.published ? [] : [`(not published to xapi: ${value.publishError ?? 'unknown'})`]),
  resume: value => [
    value.wasPaused
      ? 'resumed: the automation acts again (run vif-ip-binder reconcile to converge now)'
      : 'the host was not paused',
  ],
}

/** The summary for a terminal, or undefined to print the JSON. */
export function summarize(fn: string, value: unknown): string | undefined {
  const summary = SUMMARIES[fn]
  if (!summary || typeof value !== 'object' || value === null) return undefined
  return summary(value as Value).join('\n') + '\n'
}
