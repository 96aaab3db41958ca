// Measurement 3: storage back. The host plugin's plug-srs waits for the NFS server while
// the firewall still drops the traffic (a blackhole route to the server inside the
// firewall VM's namespace: packets vanish silently, as behind a firewall that is still
// booting); at a random instant the route goes away. Measured: from that instant (the
// kernel's own `ip monitor` line for the deleted route) to the simulator's `pbd.plugged`.
//
// The alternatives are not run for real (a 30 s retry ten times over is five minutes of
// waiting): they are computed from the same runs. A fixed cadence of P seconds probes at
// the plug-srs start and every P seconds after it, with the same probe (a TCP connect with
// the same timeout) and the same plug: its latency for a run is the wait from the instant
// the server became reachable to the next tick, plus that run's measured plug time (the
// host plugin's own `pbds[].elapsedMs`: PBD.get_currently_attached + PBD.plug). Also shown:
// the expectation when the instant falls anywhere in the period (P/2 + median plug time).
// Our own cadence is put through the same arithmetic (a probe starts every probeDelayMs,
// whether or not earlier ones have answered), as a check of the model against the runs.

import { probeDelayMs } from '../xapi-plugin/functions/plug-srs.ts'
import { ip } from '../test/helpers/netns.ts'
import { FIREWALL_POOL as F, firewallPool } from '../test/xapi-sim/scenarios/firewall-pool.ts'
import { type Simulator, startSimulator } from '../test/xapi-sim/simulator.ts'
import { login, rpc } from '../test/xapi-sim/test-helpers.ts'
import { callHostPlugin } from './host-plugin.ts'
import { escapeDots, readyWatch } from './kernel.ts'
import { type Summary, seededRandom, sleep, summarize, within } from './stats.ts'

export const CADENCES = { python: 5_000, plugLateSr: 30_000 }

export interface StorageRun {
  /** ms from the plug-srs call starting (simulator side) to the server becoming reachable. */
  reachableAfterMs: number
  /** measured: reachable → pbd.plugged */
  latencyMs: number
  probeAttempts: number
  /** the host plugin's own figure for the plug step */
  plugMs: number
  /** our cadence through the model, for the check */
  modelMs: number
  fixed5sMs: number
  fixed30sMs: number
}

export interface StorageResult {
  runs: StorageRun[]
  window: [number, number]
  measured: Summary
  model: Summary
  plug: Summary
  fixed5s: Summary
  fixed30s: Summary
  uniformPhase: { fixed5sMs: number; fixed30sMs: number }
  ratios: { fixed5s: number; fixed30s: number; uniform5s: number; uniform30s: number }
}

/** Time from `reachableAt` (ms after `start`) to the first tick of a fixed cadence at or after it. */
export function fixedCadenceWait(reachableAt: number, periodMs: number): number {
  return Math.ceil(reachableAt / periodMs) * periodMs - reachableAt
}

/**
 * plug-srs's cadence: probe k starts probeDelayMs(1) + … + probeDelayMs(k-1) after the first,
 * whether or not the earlier ones have answered (a probe caught in a silent drop does not
 * hold the next one back). The wait from `reachableAt` (ms after the first probe started)
 * to the first probe at or after it; a probe already waiting when the route comes back has
 * had its SYN dropped and times out.
 */
export function ownCadenceWait(reachableAt: number): number {
  let start = 0
  for (let attempt = 1; ; attempt++) {
    if (start >= reachableAt) return start - reachableAt
    start += probeDelayMs(attempt)
  }
}

async function pbdAttached(sim: Simulator): Promise<boolean> {
  const pbd = sim.pbds(F.srName).host1!
  return sim.record('PBD', pbd).currently_attached === true
}

export async function storageBack(
  runs: number,
  window: [number, number],
  hostPlugin: string,
  seed = 6,
): Promise<StorageResult> {
  const sim = await startSimulator({ scenario: firewallPool({ firewallRunning: true }), hostPlugin })
  try {
    const host = sim.host('host1')
    const firewall = sim.vm(F.firewallVm).netns
    const sr = sim.record('SR', F.srName).uuid as string
    const pbd = sim.pbds(F.srName).host1!
    const session = await login(sim)
    // dom0 bound to the firewall: the NFS server is reachable as soon as the firewall forwards.
    await callHostPlugin(hostPlugin, host.netns, host.root, 'apply', {
      bridge: F.privateBridge,
      addresses: `${F.hostAddresses[0]}/24`,
      gateway: F.firewallPrivateAddress,
      'gateway-check': '5',
    })
    const random = seededRandom(seed)
    const blackhole = `${F.nfsServer}/32`
    const reopened = new RegExp(`^Deleted blackhole ${escapeDots(F.nfsServer)}`)
    const results: StorageRun[] = []
    for (let i = 0; i < runs; i++) {
      if (await pbdAttached(sim)) sim.unplugPbd(pbd)
      await ip(firewall, 'route', 'add', 'blackhole', blackhole)
      const watch = await readyWatch(firewall)
      try {
        const since = performance.timeOrigin + performance.now()
        const startedEntry = sim.timeline.waitFor(
          e => e.kind === 'plugin.started' && e.host === host.uuid && e.detail?.fn === 'plug-srs',
          { since },
        )
        const call = rpc(sim, 'host.call_plugin', session, host.ref, 'vif-ip-binder', 'plug-srs', {
          srs: sr,
          timeout: '120',
        }) as Promise<string>
        const started = await within(startedEntry, 'plug-srs to start')
        await sleep(window[0] + random() * (window[1] - window[0]))
        await ip(firewall, 'route', 'del', 'blackhole', blackhole)
        const reachable = await within(watch.when(reopened), 'the blackhole route deletion')
        const plugged = await within(
          sim.timeline.waitFor(e => e.kind === 'pbd.plugged' && e.host === host.uuid, { since: reachable }),
          'the PBD plugged',
          60_000,
        )
        const reply = JSON.parse(await within(call, 'plug-srs to answer', 60_000)) as {
          srs: {
            ok: boolean
            probe: { attempts: number; elapsedMs: number }
            pbds: { outcome: string; elapsedMs: number }[]
          }[]
        }
        const outcome = reply.srs[0]!
        if (!outcome.ok || outcome.pbds[0]?.outcome !== 'plugged')
          throw new Error(`plug-srs did not plug: ${JSON.stringify(outcome)}`)
        const plugMs = outcome.pbds[0].elapsedMs
        const reachableAfterMs = reachable - started.at
        // The first probe started `probe.elapsedMs` before it answered, and it answered
        // `plugMs` before the plug ended (≈ pbd.plugged): our schedule's origin.
        const firstProbe = plugged.at - plugMs - outcome.probe.elapsedMs
        results.push({
          reachableAfterMs,
          latencyMs: plugged.at - reachable,
          probeAttempts: outcome.probe.attempts,
          plugMs,
          modelMs: ownCadenceWait(reachable - firstProbe) + plugMs,
          fixed5sMs: fixedCadenceWait(reachableAfterMs, CADENCES.python) + plugMs,
          fixed30sMs: fixedCadenceWait(reachableAfterMs, CADENCES.plugLateSr) + plugMs,
        })
      } finally {
        watch.stop()
        await ip(firewall, 'route', 'del', 'blackhole', blackhole).catch(() => undefined)
      }
    }
    const measured = summarize(results.map(r => r.latencyMs))
    const plug = summarize(results.map(r => r.plugMs))
    const fixed5s = summarize(results.map(r => r.fixed5sMs))
    const fixed30s = summarize(results.map(r => r.fixed30sMs))
    const uniformPhase = { fixed5sMs: CADENCES.python / 2 + plug.p50, fixed30sMs: CADENCES.plugLateSr / 2 + plug.p50 }
    return {
      runs: results,
      window,
      measured,
      model: summarize(results.map(r => r.modelMs)),
      plug,
      fixed5s,
      fixed30s,
      uniformPhase,
      ratios: {
        fixed5s: fixed5s.p50 / measured.p50,
        fixed30s: fixed30s.p50 / measured.p50,
        uniform5s: uniformPhase.fixed5sMs / measured.p50,
        uniform30s: uniformPhase.fixed30sMs / measured.p50,
      },
    }
  } finally {
    await sim.stop()
  }
}
