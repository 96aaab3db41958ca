// npm run bench [-- --quick]: how fast a host recovers, what one plugin call costs, and how
// the XO side scales, on the XAPI simulator (real namespaces, the built host plugin, the XO
// plugin through the xo-server facade, in a process of its own for measurement 1). Prints one table per measurement and writes
// bench/results.json. The machine is shared and noisy: everything is medians, percentiles
// and ratios of one run. --quick runs every measurement with tiny counts (npm test does,
// so the benchmark never rots); its figures mean nothing and it writes no results.json.

import { cpus, loadavg, release } from 'node:os'
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import type { Cost } from '../bench/plugin-call.ts'
import type { PathResult } from '../bench/event-to-bound.ts'
import type { BenchOutput } from '../bench/performance-section.ts'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const USAGE = `usage: npm run bench [-- [--quick] [--only=N,…]]
  --quick      every measurement with tiny counts (figures meaningless; npm test runs it)
  --only=N,…   only these measurements (1 event → bound, 2 one plugin call, 3 storage back,
               4 XO side scale, 5 reconcile); writes no results: a README figure comes from a full run`
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE)
  process.exit(0)
}
const quick = args.includes('--quick')
const onlyArg = args.find(a => a.startsWith('--only='))
const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',').map(Number)) : undefined
const unknown = args.filter(a => a !== '--quick' && a !== onlyArg)
if (unknown.length || (only && [...only].some(n => !(n >= 1 && n <= 5)))) {
  console.error(`npm run bench: unknown argument ${unknown[0] ?? onlyArg}\n${USAGE}`)
  process.exit(2)
}
/** Whether measurement n runs this time. */
const runs = (n: number) => !only || only.has(n)
if (process.getuid?.() !== 0) {
  console.error('npm run bench needs root: it builds network namespaces standing for the hosts and the firewall VM.')
  process.exit(1)
}

// Built from the current sources, so the figures are those of the code in the tree.
const build = await execa(process.execPath, ['--import', 'tsx', join(repo, 'scripts/build.ts')], {
  cwd: repo,
  reject: false,
  stdin: 'ignore',
  stdout: 'ignore',
  stderr: 'inherit',
})
if (build.exitCode !== 0) {
  console.error('npm run bench: the build failed (see above).')
  process.exit(1)
}

const { hotplugPath, xoPath } = await import('../bench/event-to-bound.ts')
const { SYSTEM_PYTHON, pluginCall } = await import('../bench/plugin-call.ts')
const { CADENCES, storageBack } = await import('../bench/storage-back.ts')
const { TCP_PROBE_TIMEOUT_MS } = await import('../xapi-plugin/kernel/probe.ts')
const { xoScale } = await import('../bench/xo-scale.ts')
const { reconcile } = await import('../bench/reconcile.ts')
const { privateHostPlugin } = await import('../bench/host-plugin.ts')
const { ms, ratio, round, table } = await import('../bench/stats.ts')

const COUNTS = quick
  ? {
      starts: 2,
      calls: 3,
      storageRuns: 2,
      storageWindow: [200, 600] as [number, number],
      sizes: [100, 1000] as [number, number],
      updates: 2_000,
      batch: 100,
      hosts: 2,
      networks: 2,
    }
  : {
      starts: 30,
      calls: 40,
      storageRuns: 10,
      storageWindow: [500, 6000] as [number, number],
      sizes: [1000, 10_000] as [number, number],
      updates: 100_000,
      batch: 100,
      hosts: 50,
      networks: 10,
    }

const command = quick ? 'npm run bench -- --quick' : 'npm run bench'
const started = performance.now()
const results: Record<string, unknown> = {}
const say = (text = '') => console.log(text)
const heading = (text: string) => say(`\n${text}\n${'='.repeat(text.length)}`)
const thousands = (n: number) => n.toLocaleString('en-US')

say(
  `vif-ip-binder benchmark${quick ? ' (--quick: tiny counts, figures meaningless)' : ''}: ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}, Linux ${release()}`,
)
say('Shared, noisy machine: read the medians, percentiles and ratios, not single absolute times.')
const loadAtStart = loadavg()[0]!
say(`Load average (1 min) at the start: ${loadAtStart.toFixed(2)}`)

// A private copy: a rebuild of dist/ by anyone else during the run must not pull it away.
const binary = await privateHostPlugin()
const hostPlugin = binary.path
try {
  // ---- 1 -------------------------------------------------------------------------------
  if (runs(1)) {
    heading(`1. Event → bound (${COUNTS.starts} firewall-VM starts per path, firewall-pool scenario)`)
    const xo = await xoPath(COUNTS.starts, hostPlugin)
    const hook = await hotplugPath(COUNTS.starts, hostPlugin)
    const routeP50 = (p: PathResult) => p.milestones.map(m => m.route).sort((a, b) => a - b)[p.milestones.length >> 1]!
    const pathRow = (label: string, p: PathResult, shell: PathResult) => [
      label,
      String(p.summary.n),
      ms(p.summary.p50),
      ms(p.summary.p95),
      ms(p.summary.max),
      ratio(p.summary.p50 / shell.summary.p50),
    ]
    say(
      table(
        ['path', 'runs', 'p50', 'p95', 'max', 'p50 / shell hook'],
        [
          pathRow('shell hook, the floor (sh + 3 ip, everything baked in)', hook.shell, hook.shell),
          pathRow('vif-hotplug hook, no XO (binds in one ip -batch; worker: gateway check)', hook.ours, hook.shell),
          pathRow('shell hook, alternated with the XO path', xo.shell, xo.shell),
          pathRow('XO plugin (VIF event → host.call_plugin apply-many)', xo.xo, xo.shell),
        ],
      ),
    )
    say(
      "From the firewall VIF's link appearing in the host's kernel to the last of: dom0 address on xapi0, its /32 mirror on xenbr0, default route via the firewall — every instant from `ip monitor` in the host's namespace. Each path alternates run by run with the shell hook in its own simulator (the XO plugin unloaded during the shell hook's runs); each ratio is to the shell hook of its own runs.",
    )
    const other = hook.otherVif
    say(
      `Our hook for a VIF no binding names (another network's, another VM's; ${other.runs} runs): CPU ${ms(other.cpuMs)}, peak memory ${other.maxRssMiB === null ? 'n/a' : `${other.maxRssMiB.toFixed(1)} MiB`}, wall ${ms(other.wallMs)}; xapi logins: ${other.logins}.`,
    )
    results.eventToBound = {
      xo: xo.xo,
      xoShell: xo.shell,
      hotplug: hook.ours,
      shell: hook.shell,
      otherVif: other,
      ratios: { hotplugToShellP50: hook.ratio, xoToShellP50: xo.ratio },
      routeP50: { xo: routeP50(xo.xo), hotplug: routeP50(hook.ours), shell: routeP50(hook.shell) },
    }
  }

  // ---- 2 -------------------------------------------------------------------------------
  if (runs(2)) {
    heading(
      `2. One plugin call (${COUNTS.calls} alternated runs of each, inside a host namespace, as xapi runs plugins)`,
    )
    const call = await pluginCall(COUNTS.calls, hostPlugin)
    const mib = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(1)} MiB`)
    const costRow = (label: string, cost: Cost) => [label, ms(cost.cpuMs), mib(cost.maxRssMiB), ms(cost.wallMs)]
    say(
      table(
        ['process', 'CPU', 'peak memory', 'wall'],
        [
          costRow('version: floor (Bun executable printing the same answer)', call.medians.floor.version),
          costRow('version: vif-ip-binder', call.medians.ours.version),
          costRow(`version: Python reference (${SYSTEM_PYTHON})`, call.medians.reference.version),
          costRow('apply, no-op: vif-ip-binder', call.medians.ours.apply),
          costRow('apply, no-op: Python reference (same kernel reads)', call.medians.reference.apply),
        ],
      ),
    )
    say(
      `Medians per process. version, vif-ip-binder / floor: CPU ${ratio(call.ratios.versionCpuToFloor)}, peak memory ${ratio(call.ratios.versionMemoryToFloor)}. vif-ip-binder / Python reference, wall: version ${ratio(call.ratios.versionWallToReference)}, no-op apply ${ratio(call.ratios.applyWallToReference)} (CPU ${ratio(call.ratios.applyCpuToReference)}).`,
    )
    say(
      "Floor: compiled in this run with the host plugin's own flags (scripts/bun-compile.ts). Reference: bench/reference-plugin.py, XenAPIPlugin style (xmlrpc.client in and out, the same reads with one `ip -j` each). CPU: the kernel's accounting of the process and its children; peak memory: GNU time.",
    )
    results.pluginCall = call
  }

  // ---- 3 -------------------------------------------------------------------------------
  if (runs(3)) {
    heading(
      `3. Storage back (${COUNTS.storageRuns} runs: NFS server reachable through the firewall → PBD currently_attached)`,
    )
    const storage = await storageBack(COUNTS.storageRuns, COUNTS.storageWindow, hostPlugin)
    say(
      table(
        ['strategy', 'p50', 'max', 'vs plug-srs (p50)'],
        [
          ['plug-srs (measured)', ms(storage.measured.p50), ms(storage.measured.max), '1×'],
          [
            `fixed ${CADENCES.python / 1000} s probe cadence (computed, same instants)`,
            ms(storage.fixed5s.p50),
            ms(storage.fixed5s.max),
            ratio(storage.ratios.fixed5s),
          ],
          [
            `${CADENCES.plugLateSr / 1000} s retry, plug-late-sr (computed, same instants)`,
            ms(storage.fixed30s.p50),
            ms(storage.fixed30s.max),
            ratio(storage.ratios.fixed30s),
          ],
          [
            `fixed ${CADENCES.python / 1000} s, instant anywhere in the period (P/2 + plug)`,
            ms(storage.uniformPhase.fixed5sMs),
            '',
            ratio(storage.ratios.uniform5s),
          ],
          [
            `${CADENCES.plugLateSr / 1000} s retry, instant anywhere in the period (P/2 + plug)`,
            ms(storage.uniformPhase.fixed30sMs),
            '',
            ratio(storage.ratios.uniform30s),
          ],
        ],
      ),
    )
    say(
      `Measured: the firewall silently drops traffic to the NFS server (a blackhole route in its namespace) while plug-srs probes; the route is deleted ${storage.window[0] / 1000}–${storage.window[1] / 1000} s (seeded uniform) after the call started; from the kernel's line for that deletion (\`ip monitor\`) to the simulator's pbd.plugged. Median probe attempts: ${storage.runs.map(r => r.probeAttempts).sort((a, b) => a - b)[storage.runs.length >> 1]}; median plug step (PBD.plug, the host plugin's own figure): ${ms(storage.plug.p50)}.`,
    )
    say(
      `Computed: a probe at the call's start and every P seconds after (same probe, same plug); per run, the wait from the same reachability instant to the next tick plus that run's plug step. Check of that arithmetic on our own cadence (a probe every probeDelayMs, whether or not earlier ones answered; each gives up after ${TCP_PROBE_TIMEOUT_MS / 1000} s): p50 ${ms(storage.model.p50)} predicted vs ${ms(storage.measured.p50)} measured.`,
    )
    results.storageBack = storage
  }

  // ---- 4 -------------------------------------------------------------------------------
  if (runs(4)) {
    heading(
      `4. XO side scale (in process: the real XO plugin fed ${thousands(COUNTS.updates)} object updates in batches of ${COUNTS.batch})`,
    )
    const scale = await xoScale(COUNTS.sizes, COUNTS.updates, COUNTS.batch)
    const row = (r: typeof scale.small) => [
      `${thousands(r.vms)} VMs (${thousands(r.records)} records, ${r.bindings} bound)`,
      thousands(Math.round(r.updatesPerCpuSecond)),
      `${r.perUpdateUs.toFixed(1)} µs`,
      `${r.listenerPerUpdateUs.toFixed(1)} µs`,
      ms(r.perRecomputeMs),
      ms(r.poolIndexMs),
      ms(r.desiredForPoolMs),
      `${r.heap.growthMB.toFixed(1)} MB`,
      `${r.heap.peakAboveStartMB.toFixed(0)} MB`,
    ]
    say(
      table(
        [
          'pool (4 VIFs per VM, 1% bound)',
          'updates/s (CPU)',
          'per update',
          'listener only',
          'per recompute',
          'PoolIndex',
          'desiredForPool',
          'heap growth',
          'heap peak',
        ],
        [row(scale.small), row(scale.large)],
      ),
    )
    say(
      `Ratio ${thousands(COUNTS.sizes[1])}/${thousands(COUNTS.sizes[0])} VMs: per update ${ratio(scale.ratios.perUpdate)}, per recompute ${ratio(scale.ratios.perRecompute)}, listener only ${ratio(scale.ratios.listenerPerUpdate)} (records ${ratio(scale.ratios.records)}).`,
    )
    say(
      'Each batch of updates is one `update` event (as the xen-api client delivers them) and is followed by the debounced recomputation of the desired state (debounce 0 here); "per update" is CPU time of both divided by the updates; "listener only" is the same updates with a single recomputation at the end. The updates change no binding (no host call). Heap: after a full GC, after minus before the measured feed; peak: highest sample during it.',
    )
    say(
      `What grows is the number of bound VMs (1% of the pool: ${scale.large.bindings / scale.small.bindings}× here): each recomputation evaluates every binding. The pool's size itself costs nothing per event: records are found through the connection's ref index, never by walking the pool.`,
    )
    results.xoScale = scale
  }

  // ---- 5 -------------------------------------------------------------------------------
  if (runs(5)) {
    heading(
      `5. Reconcile after a reconnection (${COUNTS.hosts * COUNTS.networks} bindings over ${COUNTS.hosts} simulated hosts)`,
    )
    const rec = await reconcile(COUNTS.hosts, COUNTS.networks, hostPlugin)
    say(
      table(
        [
          'hosts',
          'bindings',
          'queue bound',
          'most in flight',
          'reconnect → all bound',
          'first apply-many',
          'host calls',
          'apply call p50',
          'apply call max',
          'hosts in sync',
        ],
        [
          [
            String(rec.hosts),
            String(rec.bindings),
            String(rec.concurrency),
            String(rec.maxInFlight),
            ms(rec.totalMs),
            ms(rec.phases.firstApplyMs),
            String(rec.calls),
            ms(rec.applyMs.p50),
            ms(rec.applyMs.max),
            `${rec.hostsInSync}/${rec.hosts}`,
          ],
        ],
      ),
    )
    say(
      `XO disconnected, every firewall VM started (${COUNTS.networks} private networks and ${COUNTS.networks} tiny firewall VMs per host, gateway check 0, no vif-hotplug hook), XO reconnected: from connectServer to the last apply answered (simulator timeline); then \`status\` on every host: ${rec.bridgesInSync}/${rec.bindings} bridges in sync. host.call_plugin calls after the reconnection: ${rec.calls} (${Object.entries(
        rec.callsByFunction,
      )
        .map(([fn, n]) => `${fn} ${n}`)
        .join(
          ', ',
        )}); calls to one host are serialized, so at most min(queue bound, hosts) are in flight.${rec.errors.length ? ` XO plugin errors: ${rec.errors.slice(0, 3).join(' | ')}` : ''}`,
    )
    results.reconcile = rec
  }

  const durationMs = performance.now() - started
  const output = {
    generatedAt: new Date().toISOString(),
    command,
    quick,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model.trim(),
      node: process.version,
      kernel: release(),
      loadAverage: { start: round(loadAtStart, 2), end: round(loadavg()[0]!, 2) },
    },
    durationMs: round(durationMs, 0),
    counts: COUNTS,
    measurements: results,
  }
  // --quick and --only leave the figures of the last full run alone.
  if (!quick && !only) {
    await writeFile(join(repo, 'bench/results.json'), JSON.stringify(output, null, 2) + '\n')
    const { writeReadmePerformance } = await import('./readme-performance.ts')
    await writeReadmePerformance(output as unknown as BenchOutput)
  }
  say(
    `\n${command}: done in ${(durationMs / 1000).toFixed(0)} s${quick || only ? ` (bench/results.json not written: ${quick ? '--quick' : onlyArg})` : '; raw figures and samples in bench/results.json, README.md Performance section rewritten from them'}`,
  )
  await binary.remove()
  process.exit(0)
} catch (error) {
  console.error(`\n${command} failed: ${(error as Error).stack ?? error}`)
  await binary.remove()
  process.exit(1)
}
