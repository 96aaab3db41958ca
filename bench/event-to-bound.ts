// Measurement 1: event → bound. From the moment the simulator marks the firewall's VIF
// attached (timeline `vif.attached`) to the moment dom0's address, its management mirror
// and its default route through the firewall are all in the host's kernel (timestamped by
// `ip monitor`, not by polling), for each path on its own:
//   - XO: the XO plugin, loaded through the xo-server facade, sees the VIF plug in the
//     event stream and calls host.call_plugin apply;
//   - vif-hotplug: no XO at all; the host plugin installed with `install --root`, the
//     bindings in pool.other_config, xapi's vif-hotplug hook as the only trigger.
// The VM is stopped between runs and the release awaited, so each run starts clean.

import { execa } from 'execa'
import { POOL_CONFIG_KEY, encodePoolConfig, parseBinding, toPoolBinding } from '../shared/binding.ts'
import { firewallBinding, startHarness } from '../test/e2e/helpers.ts'
import { XAPI_PATH } from '../test/helpers/host-plugin.ts'
import { FIREWALL_POOL as F, firewallPool } from '../test/xapi-sim/scenarios/firewall-pool.ts'
import { type Simulator, startSimulator } from '../test/xapi-sim/simulator.ts'
import { login, rpc } from '../test/xapi-sim/test-helpers.ts'
import { type KernelWatch, escapeDots, readyWatch } from './kernel.ts'
import { type Summary, summarize, within } from './stats.ts'

const HOST = 'host1'
const ADDRESS = new RegExp(`^(?!Deleted).*${F.privateBridge}\\s+inet ${escapeDots(F.hostAddresses[0])}/24`)
const MIRROR = new RegExp(`^(?!Deleted).*xenbr0\\s+inet ${escapeDots(F.hostAddresses[0])}/32`)
const ROUTE = new RegExp(`^default via ${escapeDots(F.firewallPrivateAddress)} dev ${F.privateBridge}`)
const MIRROR_GONE = new RegExp(`^Deleted.*xenbr0\\s+inet ${escapeDots(F.hostAddresses[0])}/32`)

export interface PathResult {
  /** ms from vif.attached to the last of address, mirror and default route. */
  samples: number[]
  summary: Summary
  /** ms from vif.attached to each milestone, medians. */
  milestones: { address: number; mirror: number; route: number }[]
}

/** One start of the firewall VM on host1, measured; then its stop, with the release awaited. */
async function oneRun(
  sim: Simulator,
  settle: () => Promise<void>,
): Promise<{ total: number; address: number; mirror: number; route: number }> {
  const host = sim.host(HOST)
  const vifUuid = sim.record('VIF', sim.vifs(F.firewallVm)['0']!).uuid as string
  const watch = await readyWatch(host.netns)
  let release: KernelWatch | undefined
  try {
    const since = performance.timeOrigin + performance.now()
    const attached = sim.timeline.waitFor(e => e.kind === 'vif.attached' && e.vif === vifUuid, {
      since,
      timeoutMs: 30_000,
    })
    await sim.startVm(F.firewallVm, HOST)
    const [at, address, mirror, route] = await within(
      Promise.all([attached.then(e => e.at), watch.when(ADDRESS), watch.when(MIRROR), watch.when(ROUTE)]),
      'the binding in the kernel',
    )
    await settle()
    // Stop, and wait until the binding is released, so that the next run starts clean.
    release = await readyWatch(host.netns)
    await sim.shutdownVm(F.firewallVm)
    await within(release.when(MIRROR_GONE), 'the release')
    await settle()
    return {
      total: Math.max(address, mirror, route) - at,
      address: address - at,
      mirror: mirror - at,
      route: route - at,
    }
  } finally {
    watch.stop()
    release?.stop()
  }
}

function pathResult(runs: { total: number; address: number; mirror: number; route: number }[]): PathResult {
  return {
    samples: runs.map(r => r.total),
    summary: summarize(runs.map(r => r.total)),
    milestones: runs.map(({ address, mirror, route }) => ({ address, mirror, route })),
  }
}

export async function xoPath(runs: number, hostPlugin: string): Promise<PathResult> {
  // The e2e harness: firewall-pool, the built host plugin, no vif-hotplug hook, the XO
  // plugin through the facade (xen-api client over JSON-RPC).
  const h = await startHarness({ hostPlugin })
  try {
    await h.plugin.configure({ bindings: [firewallBinding(h.sim)] })
    await h.plugin.load()
    await h.plugin.instance.whenIdle()
    const results = []
    for (let i = 0; i < runs; i++) results.push(await oneRun(h.sim, () => h.plugin.instance.whenIdle()))
    return pathResult(results)
  } finally {
    await h.close()
  }
}

/** What the XO plugin would have written to pool.other_config for the quick-start binding. */
async function writePoolBindings(sim: Simulator): Promise<void> {
  const session = await login(sim)
  const network = sim.record('network', F.privateNetwork).uuid as string
  const vm = sim.vm(F.firewallVm).uuid
  const binding = parseBinding({ ...firewallBinding(sim), network }, 0)
  const text = encodePoolConfig({
    version: 1,
    gatewayCheckSeconds: 10,
    rescue: false,
    bindings: [toPoolBinding(binding, vm, network)],
  })
  const pool = (await rpc(sim, 'pool.get_all', session))[0] as string
  await rpc(sim, 'pool.add_to_other_config', session, pool, POOL_CONFIG_KEY, text)
}

export async function hotplugPath(runs: number, hostPlugin: string): Promise<PathResult> {
  const sim = await startSimulator({ scenario: firewallPool(), hostPlugin: false })
  try {
    for (const host of sim.hosts) {
      const result = await execa(hostPlugin, ['install', '--root', host.root], {
        env: { PATH: XAPI_PATH },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      })
      if (result.exitCode !== 0) throw new Error(`install --root ${host.root} failed: ${result.stderr}`)
    }
    await writePoolBindings(sim)
    const results = []
    // The hook's detached worker ends a little after the kernel shows its work: let it go.
    const settle = () => new Promise<void>(resolve => setTimeout(resolve, 100))
    for (let i = 0; i < runs; i++) results.push(await oneRun(sim, settle))
    return pathResult(results)
  } finally {
    await sim.stop()
  }
}
