// README's Performance section (bench/README-section.md, copied into README.md by
// scripts/readme-sections.ts), written from one full `npm run bench` (bench/results.json):
// the figures are the run's own, never typed in. `npm run bench` rewrites it after a full
// run; `node --import tsx scripts/readme-performance.ts` from the results.json in the tree.

import type { HotplugResult, PathResult } from './event-to-bound.ts'
import type { Cost, PluginCallResult } from './plugin-call.ts'
import type { ReconcileResult } from './reconcile.ts'
import { ms, ratio } from './stats.ts'
import { CADENCES, type StorageResult } from './storage-back.ts'
import type { ScaleResult, ScaleRun } from './xo-scale.ts'

export interface BenchOutput {
  generatedAt: string
  durationMs: number
  machine: { cpus: number; model?: string; node: string; kernel: string; loadAverage?: { start: number; end: number } }
  counts: { starts: number; calls: number; storageRuns: number; hosts: number; networks: number; updates: number }
  measurements: {
    eventToBound: {
      xo: PathResult
      /** The shell hook, alternated with the XO path. */
      xoShell: PathResult
      hotplug: PathResult
      shell: PathResult
      otherVif: HotplugResult['otherVif']
      ratios: { hotplugToShellP50: number; xoToShellP50: number }
    }
    pluginCall: PluginCallResult
    storageBack: StorageResult
    xoScale: ScaleResult
    reconcile: ReconcileResult
  }
}

const row = (cells: string[]) => `| ${cells.join(' | ')} |`
const mib = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(1)} MiB`)
const thousands = (n: number) => Math.round(n).toLocaleString('en-US')

function table(header: string[], rows: string[][]): string {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n')
}

function eventToBound(o: BenchOutput): string {
  const e = o.measurements.eventToBound
  const path = (label: string, p: PathResult, shell: PathResult) => [
    label,
    ms(p.summary.p50),
    ms(p.summary.p95),
    ms(p.summary.max),
    ratio(p.summary.p50 / shell.summary.p50),
  ]
  return `**How long a host stays unreachable after the firewall VM starts.** From the firewall
VIF's link appearing in the host's kernel to the moment dom0's address, its management mirror
and its default route through the firewall are all there (every instant from \`ip monitor\`
in the host's namespace), ${o.counts.starts} starts per path. The floor is the minimal shell
hook Xen's \`vif-route\` would be for this one binding (\`bench/shell-hook.ts\`: \`sh\` and three
\`ip\`, everything baked in), installed as \`vif-hotplug\` and alternated run by run with each
path in that path's own simulator (with the XO plugin unloaded during its runs beside the XO
path), so that each ratio compares runs made under the same load. Xen Orchestra (the
xo-server facade and the XO plugin) runs in a process of its own, as xo-server never runs in
xapi's, and its \`xen-api\` client paces its event polls as xo-server's does (200 ms before
each \`event.from\`); the plugin's own VM/VIF event poll sees the plug without that pause:

${table(
  ['path', 'p50', 'p95', 'max', 'p50 / shell hook'],
  [
    path('shell hook (the floor), beside the hook', e.shell, e.shell),
    path(
      'vif-hotplug hook, no Xen Orchestra (binds in one `ip -batch`, its worker checks the gateway)',
      e.hotplug,
      e.shell,
    ),
    path('shell hook (the floor), beside Xen Orchestra', e.xoShell, e.xoShell),
    path('Xen Orchestra plugin (VIF event → `host.call_plugin apply-many`)', e.xo, e.xoShell),
  ],
)}

For a VIF no binding names (another network's, another VM's), the hook decides from its local
index before the rest of the executable is even evaluated, and exits: ${ms(e.otherVif.cpuMs)} of CPU (median of ${e.otherVif.runs}), ${mib(e.otherVif.maxRssMiB)} peak,
no worker, ${e.otherVif.logins} xapi logins.`
}

function pluginCall(o: BenchOutput): string {
  const c = o.measurements.pluginCall
  const cost = (label: string, x: Cost) => [label, ms(x.cpuMs), mib(x.maxRssMiB), ms(x.wallMs)]
  return `**What one plugin call costs.** Each program run as xapi runs plugins, ${c.calls} alternated
runs each; CPU is the kernel's accounting of the process and its children, peak memory GNU
time's, with every executable read from disk as after a boot (dropped from the page cache,
then run once unmeasured: a file just written measures some 5 MiB more). The floor is a Bun executable compiled in the same run with the host plugin's own
flags that only prints vif-ip-binder's \`version\` answer; the reference is a small Python
plugin written the way XCP-ng's are (\`bench/reference-plugin.py\`, run by \`/usr/bin/python3\`),
doing the same kernel reads as a no-op \`apply\` with one \`ip -j\` each:

${table(
  ['process', 'CPU', 'peak memory', 'wall'],
  [
    cost('`version`: floor', c.medians.floor.version),
    cost('`version`: vif-ip-binder', c.medians.ours.version),
    cost('`version`: Python reference', c.medians.reference.version),
    cost('no-op `apply`: vif-ip-binder', c.medians.ours.apply),
    cost('no-op `apply`: Python reference', c.medians.reference.apply),
  ],
)}

\`version\` costs ${ratio(c.ratios.versionCpuToFloor)} the floor's CPU and ${ratio(c.ratios.versionMemoryToFloor)} its memory (its bytecode is
laid out in the order \`version\` uses it, so that the rest is never read: \`scripts/bytecode-order.ts\`);
a no-op \`apply\` (lock taken in-process, one \`ip -batch\` for every read, state and sysctls
read as files) takes ${ratio(c.ratios.applyWallToReference)} the reference's wall time.`
}

function storageBack(o: BenchOutput): string {
  const s = o.measurements.storageBack
  return `**How much sooner storage comes back.** With the firewall silently dropping traffic to the
NFS server until a random moment ${s.window[0] / 1000}–${s.window[1] / 1000} s into \`plug-srs\`, from that moment to the PBD
attached, ${o.counts.storageRuns} runs: **${ms(s.measured.p50)} median, ${ms(s.measured.max)} max**. The alternatives are computed from the
same runs (same probe, same measured plug time, only the cadence differs; the same
arithmetic applied to our own cadence predicts ${ms(s.model.p50)} against the ${ms(s.measured.p50)} measured; see
\`bench/storage-back.ts\`):

${table(
  ['strategy', 'p50', 'vs vif-ip-binder'],
  [
    ['vif-ip-binder `plug-srs` (measured)', ms(s.measured.p50), '1×'],
    [
      `probe every ${CADENCES.python / 1000} s (the original Python service)`,
      ms(s.fixed5s.p50),
      ratio(s.ratios.fixed5s),
    ],
    [
      `retry every ${CADENCES.plugLateSr / 1000} s (XCP-ng's plug-late-sr)`,
      ms(s.fixed30s.p50),
      ratio(s.ratios.fixed30s),
    ],
    [
      `every ${CADENCES.python / 1000} s, server back at any point of the period`,
      ms(s.uniformPhase.fixed5sMs),
      ratio(s.ratios.uniform5s),
    ],
    [
      `every ${CADENCES.plugLateSr / 1000} s, server back at any point of the period`,
      ms(s.uniformPhase.fixed30sMs),
      ratio(s.ratios.uniform30s),
    ],
  ],
)}`
}

function xoScale(o: BenchOutput): string {
  const x = o.measurements.xoScale
  const line = (r: ScaleRun) => [
    `${thousands(r.vms)} VMs (${r.bindings} bound)`,
    thousands(r.updatesPerCpuSecond),
    `${r.perUpdateUs.toFixed(1)} µs`,
    ms(r.perRecomputeMs),
    `${r.heap.growthMB.toFixed(1)} MB`,
  ]
  return `**How the Xen Orchestra side scales.** The plugin's watcher fed ${thousands(o.counts.updates)} object updates
(in batches, as the \`xen-api\` client delivers them) on synthetic pools with 4 VIFs per VM and
1% of the VMs bound:

${table(['pool', 'updates/s (CPU)', 'per update', 'per recomputation', 'heap growth'], [line(x.small), line(x.large)])}

Per update, ${ratio(x.ratios.records)} the records cost ${ratio(x.ratios.perUpdate)}: what grows is the number of bound VMs, since each
recomputation evaluates every binding; records are found through the connection's ref index.`
}

function reconcile(o: BenchOutput): string {
  const r = o.measurements.reconcile
  const byFunction = Object.entries(r.callsByFunction)
    .map(([fn, n]) => `${n} \`${fn}\``)
    .join(', ')
  return `**Reconciling after a reconnection.** ${r.bindings} bindings over ${r.hosts} simulated hosts (${r.bindings / r.hosts} per host),
Xen Orchestra disconnected while every firewall VM started, then reconnected: all ${r.hostsInSync} of ${r.hosts} hosts
correct (\`status\` in sync on ${r.bridgesInSync} of ${r.bindings} bridges) **${ms(r.totalMs)}** after the reconnection, with ${r.calls}
\`host.call_plugin\` calls in all (${byFunction}): each host gets all its bindings in one \`apply-many\`
(one lock, one kernel read) sent with \`refuse-changes=true\`, whose answer also lists every bridge the
host holds, so nothing is asked first (a binding the host holds with other arguments would be refused,
and sent again with a confirmation window); no new \`version\` call for a host already found compatible. At most ${r.maxInFlight} calls were in flight (the plugin's bound: ${r.concurrency}); an
\`apply-many\` took ${ms(r.applyMs.p50)} median under that load.`
}

export function performanceSection(o: BenchOutput): string {
  const m = o.machine
  return `## Performance

Figures from one full run of \`npm run bench\` (as root, ${Math.round(o.durationMs / 1000)} s, ${o.generatedAt.slice(0, 10)}) on a shared,
noisy ${m.cpus}-CPU machine (${m.model ?? 'unknown CPU'}, Node ${m.node}, Linux ${m.kernel}${m.loadAverage ? `; load average ${m.loadAverage.start} at the start, ${m.loadAverage.end} at the end` : ''}), on the XAPI
simulator: real network namespaces, the built host plugin, the XO plugin loaded through the
xo-server facade. Absolute times on such a machine move from run to run; the medians,
percentiles and ratios are what to read. This section is written by \`npm run bench\` from
its own figures (\`bench/performance-section.ts\`); every sample is in \`bench/results.json\`;
\`npm run bench -- --quick\` runs the same code with tiny counts (part of \`npm test\`).

${eventToBound(o)}

${pluginCall(o)}

${storageBack(o)}

${xoScale(o)}

${reconcile(o)}
`
}
