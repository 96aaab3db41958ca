// Measurement 5: reconcile after a reconnection. A pool of many hosts, each with a few
// private networks and one tiny "firewall" VM per network (its namespace holds the
// gateway), one binding per VM. Xen Orchestra is disconnected while every VM starts (no
// vif-hotplug hook installed: only XO binds here), then reconnects: measured from that
// moment until the last host holds its bindings, with the XO plugin's call queue bound
// (calls in flight across hosts) as it ships. Checked afterwards with `status` on every
// host (every bridge in sync).

import factory from '../xo-plugin/index.ts'
import type { VifIpBinderPlugin } from '../xo-plugin/plugin.ts'
import { DEFAULT_CALL_QUEUE_OPTIONS } from '../xo-plugin/call-queue.ts'
import type { BindingConfig } from '../shared/binding.ts'
import type { ScenarioDefinition } from '../test/xapi-sim/scenario.ts'
import { type Simulator, startSimulator } from '../test/xapi-sim/simulator.ts'
import { now } from '../test/xapi-sim/timeline.ts'
import { type PluginFactory, PluginHost, XoFacade } from '../test/xo-facade/facade.ts'
import { callHostPlugin } from './host-plugin.ts'
import { type Summary, summarize, within } from './stats.ts'

export function reconcileScenario(hosts: number, networksPerHost: number): ScenarioDefinition {
  const hostNames = Array.from({ length: hosts }, (_, h) => `host${h + 1}`)
  return {
    name: `reconcile-${hosts}x${networksPerHost}`,
    pool: { name_label: 'Reconcile benchmark pool' },
    hosts: hostNames.map((name, h) => ({ name, address: `10.99.${h >> 8}.${(h & 255) + 1}` })),
    // Private networks only (no PIF): the lightest pool that still needs every binding.
    networks: Array.from({ length: networksPerHost }, (_, n) => ({ name: `private${n}` })),
    vms: hostNames.flatMap((host, h) =>
      Array.from({ length: networksPerHost }, (_, n) => ({
        name: `fw-${h + 1}-${n}`,
        affinity: host,
        vifs: [{ network: `private${n}`, device: '0' }],
        guest: { addresses: { '0': [`10.${100 + h}.${n}.1/24`] } },
      })),
    ),
  }
}

function bindingsFor(sim: Simulator, hosts: number, networksPerHost: number): BindingConfig[] {
  const bindings: BindingConfig[] = []
  for (let h = 0; h < hosts; h++) {
    for (let n = 0; n < networksPerHost; n++) {
      bindings.push({
        vm: sim.vm(`fw-${h + 1}-${n}`).uuid,
        network: sim.record('network', `private${n}`).uuid as string,
        addresses: [`10.${100 + h}.${n}.2/24`],
        // One default route per host: only the first network's binding has a gateway.
        ...(n === 0 ? { gateways: [`10.${100 + h}.0.1`] } : {}),
      })
    }
  }
  return bindings
}

export interface ReconcileResult {
  hosts: number
  bindings: number
  concurrency: number
  /** ms from XO's reconnection to the last apply answered */
  totalMs: number
  /** `statusDoneMs`: null when no host was asked (every host had targets: their apply-many answers tell). */
  phases: { connectedMs: number; statusDoneMs: number | null; firstApplyMs: number }
  /** host.call_plugin calls of apply or apply-many */
  applies: number
  /** every host.call_plugin call after the reconnection */
  calls: number
  callsByFunction: Record<string, number>
  statusCalls: number
  applyMs: Summary
  /** most plugin calls in flight at once, from the simulator's timeline */
  maxInFlight: number
  hostsInSync: number
  bridgesInSync: number
  errors: string[]
  setupMs: { boot: number; startVms: number }
}

export async function reconcile(hosts: number, networksPerHost: number, hostPlugin: string): Promise<ReconcileResult> {
  const setupStarted = now()
  const sim = await startSimulator({ scenario: reconcileScenario(hosts, networksPerHost), hostPlugin })
  const booted = now()
  const xo = new XoFacade()
  const errors: string[] = []
  const transport = Symbol.for('@xen-orchestra/log')
  const global = globalThis as Record<symbol, unknown>
  const previousTransport = global[transport]
  global[transport] = (log: { level: number; message: string }) => {
    if (log.level >= 40) errors.push(log.message.split('\n')[0]!)
  }
  const warn = console.warn
  // xen-api reports the cut of its pending event.from on disconnection: expected here.
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] !== 'string' || !args[0].startsWith('_watchEvents')) warn(...args)
  }
  let plugin: PluginHost<VifIpBinderPlugin> | undefined
  try {
    const { url, user, password } = sim.describe()
    await xo.connectServer('pool', { url, user, password })
    plugin = new PluginHost<VifIpBinderPlugin>(factory as unknown as PluginFactory, xo)
    await plugin.configure({ bindings: bindingsFor(sim, hosts, networksPerHost), gatewayCheckSeconds: 0 })
    await plugin.load()
    await plugin.instance.whenIdle()

    // XO goes away; meanwhile every firewall VM starts (the pool booted, say).
    await xo.disconnectServer('pool')
    const startVms = now()
    for (let h = 0; h < hosts; h++)
      for (let n = 0; n < networksPerHost; n++) await sim.startVm(`fw-${h + 1}-${n}`, `host${h + 1}`)
    const vmsStarted = now()
    if (
      sim.timeline
        .entries({ kind: 'plugin.started' })
        .some(e => e.detail?.fn === 'apply' || e.detail?.fn === 'apply-many')
    )
      throw new Error('something applied while XO was away')

    const t0 = now()
    await xo.connectServer('pool', { url, user, password })
    const connected = now()
    await within(plugin.instance.whenIdle(), 'the XO plugin to settle', 600_000)
    const pending = plugin.instance.pendingKeys()
    if (pending.length) throw new Error(`not converged: ${pending.slice(0, 5).join(', ')}…`)

    const calls = sim.timeline
      .entries()
      .filter(e => (e.kind === 'plugin.started' || e.kind === 'plugin.finished') && e.at >= t0)
    const finished = calls.filter(e => e.kind === 'plugin.finished')
    // One apply per binding, or one apply-many per host (several bindings each).
    const isApply = (fn: unknown) => fn === 'apply' || fn === 'apply-many'
    const applies = finished.filter(e => isApply(e.detail?.fn))
    const failed = finished.filter(e => e.detail?.ok !== true)
    if (failed.length) throw new Error(`${failed.length} plugin calls failed: ${JSON.stringify(failed[0]!.detail)}`)
    const callsByFunction: Record<string, number> = {}
    for (const e of finished) callsByFunction[String(e.detail?.fn)] = (callsByFunction[String(e.detail?.fn)] ?? 0) + 1
    let inFlight = 0
    let maxInFlight = 0
    for (const e of calls) {
      inFlight += e.kind === 'plugin.started' ? 1 : -1
      maxInFlight = Math.max(maxInFlight, inFlight)
    }
    const started = calls.filter(e => e.kind === 'plugin.started')
    const statuses = finished.filter(e => e.detail?.fn === 'status')
    const end = Math.max(...applies.map(e => e.at))

    // Every host, asked directly: every bridge recorded and in sync with the kernel.
    let hostsInSync = 0
    let bridgesInSync = 0
    for (const host of sim.hosts) {
      const status = await callHostPlugin<{ bridges: Record<string, { inSync: boolean }> }>(
        hostPlugin,
        host.netns,
        host.root,
        'status',
      )
      const synced = Object.values(status.bridges).filter(b => b.inSync).length
      bridgesInSync += synced
      if (synced === networksPerHost && Object.keys(status.bridges).length === networksPerHost) hostsInSync++
    }
    return {
      hosts,
      bindings: hosts * networksPerHost,
      concurrency: DEFAULT_CALL_QUEUE_OPTIONS.concurrency,
      totalMs: end - t0,
      phases: {
        connectedMs: connected - t0,
        statusDoneMs: statuses.length ? Math.max(...statuses.map(e => e.at)) - t0 : null,
        firstApplyMs: Math.min(...started.filter(e => isApply(e.detail?.fn)).map(e => e.at)) - t0,
      },
      applies: applies.length,
      calls: finished.length,
      callsByFunction,
      statusCalls: statuses.length,
      applyMs: summarize(applies.map(e => Number(e.detail?.ms))),
      maxInFlight,
      hostsInSync,
      bridgesInSync,
      errors,
      setupMs: { boot: booted - setupStarted, startVms: vmsStarted - startVms },
    }
  } finally {
    await plugin?.unload().catch(() => undefined)
    await xo.disconnectAll().catch(() => undefined)
    await sim.stop()
    await new Promise(resolve => setTimeout(resolve, 100))
    console.warn = warn
    global[transport] = previousTransport
  }
}
