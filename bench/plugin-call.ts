// Measurement 2: what one plugin call costs, as whole processes. Three programs answer the
// same `version` call, run as xapi runs plugins (argv[1] the <methodCall> in xapi's
// encoding, PATH only plus VIF_IP_BINDER_ROOT, stdin /dev/null, inside the host's
// namespace):
//   - the floor: a Bun executable compiled in this run with the host plugin's own flags
//     (scripts/bun-compile.ts) that only prints the answer vif-ip-binder gives, byte for byte;
//   - vif-ip-binder, the built executable;
//   - a small Python reference written the way XCP-ng's Python host plugins are
//     (bench/reference-plugin.py), run by the system's /usr/bin/python3 (not a PATH shim).
// Then the no-op `apply` (everything already in place) of vif-ip-binder and of the
// reference, which does the same kernel reads. CPU (kernel accounting), peak memory (GNU
// time) and wall time per process, alternated runs, from bench/process-cost.ts run by Bun
// inside the namespace.

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { bunBinary, compileForDom0 } from '../scripts/bun-compile.ts'
import { XAPI_PATH, parseReply, xapiEncodedCall } from '../test/helpers/host-plugin.ts'
import { FIREWALL_POOL as F, firewallPool } from '../test/xapi-sim/scenarios/firewall-pool.ts'
import { startSimulator } from '../test/xapi-sim/simulator.ts'
import { callHostPlugin } from './host-plugin.ts'
import { median } from './stats.ts'

const here = dirname(fileURLToPath(import.meta.url))
export const REFERENCE_PLUGIN = join(here, 'reference-plugin.py')
export const SYSTEM_PYTHON = '/usr/bin/python3'
export const PROCESS_COST = join(here, 'process-cost.ts')

const APPLY_ARGS = { bridge: F.privateBridge, addresses: `${F.hostAddresses[0]}/24`, gateway: F.firewallPrivateAddress }

export interface ProcessSample {
  cpuMs: number
  wallMs: number
  maxRssMiB: number | null
}

export interface Cost {
  cpuMs: number
  wallMs: number
  /** null where GNU time is missing */
  maxRssMiB: number | null
}

export interface PluginCallResult {
  calls: number
  medians: {
    floor: { version: Cost }
    ours: { version: Cost; apply: Cost }
    reference: { version: Cost; apply: Cost }
  }
  ratios: {
    versionCpuToFloor: number
    versionMemoryToFloor: number
    versionWallToReference: number
    applyWallToReference: number
    applyCpuToReference: number
  }
  samples: Record<string, ProcessSample[]>
}

/** A Bun executable that prints `answer` and nothing else, compiled like the host plugin. */
async function buildFloor(dir: string, answer: string): Promise<string> {
  const source = join(dir, 'floor.ts')
  await writeFile(source, `process.stdout.write(${JSON.stringify(answer)})\n`)
  const executable = join(dir, 'floor')
  await compileForDom0(dir, source, executable)
  return executable
}

function costOf(samples: ProcessSample[]): Cost {
  const rss = samples.map(s => s.maxRssMiB).filter((m): m is number => m !== null)
  return {
    cpuMs: median(samples.map(s => s.cpuMs)),
    wallMs: median(samples.map(s => s.wallMs)),
    maxRssMiB: rss.length ? median(rss) : null,
  }
}

async function answerOf(ns: string, root: string, argv: string[]): Promise<string> {
  const env = ['env', '-i', `PATH=${XAPI_PATH}`, `VIF_IP_BINDER_ROOT=${root}`]
  const result = await execa('ip', ['netns', 'exec', ns, ...env, ...argv], { stdin: 'ignore' })
  const reply = await parseReply(result.stdout)
  if (reply.status !== 'Success') throw new Error(`${argv[0]}: ${JSON.stringify(reply.errorDescription)}`)
  const changes = (reply.value as { changes?: unknown[] }).changes
  if (changes !== undefined && changes.length !== 0) throw new Error(`${argv[0]}: the apply is not a no-op`)
  return result.stdout
}

export async function pluginCall(calls: number, hostPlugin: string): Promise<PluginCallResult> {
  const sim = await startSimulator({ scenario: firewallPool({ firewallRunning: true }), hostPlugin })
  const dir = await mkdtemp(join(tmpdir(), `vib-bench-${process.pid}-floor-`))
  try {
    const host = sim.host('host1')
    // Bind once for real, so that the measured applies are no-ops.
    await callHostPlugin(hostPlugin, host.netns, host.root, 'apply', { ...APPLY_ARGS, 'gateway-check': '5' })
    const xml = { version: xapiEncodedCall('version', {}), apply: xapiEncodedCall('apply', APPLY_ARGS) }
    const python = [SYSTEM_PYTHON, REFERENCE_PLUGIN]
    const floor = await buildFloor(dir, await answerOf(host.netns, host.root, [hostPlugin, xml.version]))
    const programs: Record<string, string[]> = {
      'floor.version': [floor, xml.version],
      'ours.version': [hostPlugin, xml.version],
      'reference.version': [...python, xml.version],
      'ours.apply': [hostPlugin, xml.apply],
      'reference.apply': [...python, xml.apply],
    }
    // Every one answers as a Python xmlrpc.client reads it; the applies are no-ops.
    for (const argv of Object.values(programs)) await answerOf(host.netns, host.root, argv)

    const env = ['env', '-i', `PATH=${XAPI_PATH}`, `VIF_IP_BINDER_ROOT=${host.root}`]
    const measure = [bunBinary(), PROCESS_COST, String(calls), JSON.stringify(programs)]
    const result = await execa('ip', ['netns', 'exec', host.netns, ...env, ...measure], { stdin: 'ignore' })
    const samples = JSON.parse(result.stdout) as Record<string, ProcessSample[]>
    const m = Object.fromEntries(Object.entries(samples).map(([key, s]) => [key, costOf(s)]))
    const at = (key: string) => m[key]!
    return {
      calls,
      medians: {
        floor: { version: at('floor.version') },
        ours: { version: at('ours.version'), apply: at('ours.apply') },
        reference: { version: at('reference.version'), apply: at('reference.apply') },
      },
      ratios: {
        versionCpuToFloor: at('ours.version').cpuMs / at('floor.version').cpuMs,
        versionMemoryToFloor:
          (at('ours.version').maxRssMiB ?? Number.NaN) / (at('floor.version').maxRssMiB ?? Number.NaN),
        versionWallToReference: at('ours.version').wallMs / at('reference.version').wallMs,
        applyWallToReference: at('ours.apply').wallMs / at('reference.apply').wallMs,
        applyCpuToReference: at('ours.apply').cpuMs / at('reference.apply').cpuMs,
      },
      samples,
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
    await sim.stop()
  }
}
