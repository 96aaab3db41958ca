// Measurement 2: what one plugin call costs. The compiled vif-ip-binder executable, run as
// xapi runs it (argv[1] the <methodCall> in xapi's encoding, PATH only plus
// VIF_IP_BINDER_ROOT, stdin /dev/null, inside the host's namespace), against a small Python
// reference written the way XCP-ng's Python host plugins are (bench/reference-plugin.py),
// both launched through the same `ip netns exec … env -i …` wrapper, A/B alternated.
// `version` answers without touching anything; the no-op `apply` (everything already in
// place) reads the kernel and answers "nothing to do".

import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { decodeMethodResponse } from '../shared/xmlrpc.ts'
import { XAPI_PATH, parseReply, xapiEncodedCall } from '../test/helpers/host-plugin.ts'
import { FIREWALL_POOL as F, firewallPool } from '../test/xapi-sim/scenarios/firewall-pool.ts'
import { startSimulator } from '../test/xapi-sim/simulator.ts'
import { callHostPlugin } from './host-plugin.ts'
import { median } from './stats.ts'

export const REFERENCE_PLUGIN = join(dirname(fileURLToPath(import.meta.url)), 'reference-plugin.py')

const APPLY_ARGS = { bridge: F.privateBridge, addresses: `${F.hostAddresses[0]}/24`, gateway: F.firewallPrivateAddress }

interface Target {
  ns: string
  root: string
}

/** One run as xapi's forkexecd would: the program, argv[1] = xml, PATH and the root only, stdin /dev/null. */
async function timedRun(
  target: Target,
  program: string[],
  xml: string | undefined,
): Promise<{ ms: number; stdout: string }> {
  const argv = [
    'netns',
    'exec',
    target.ns,
    'env',
    '-i',
    `PATH=${XAPI_PATH}`,
    `VIF_IP_BINDER_ROOT=${target.root}`,
    ...program,
  ]
  if (xml !== undefined) argv.push(xml)
  const started = performance.now()
  const result = await execa('ip', argv, {
    reject: false,
    stdin: 'ignore',
    env: { PATH: process.env.PATH },
    extendEnv: false,
  })
  const elapsed = performance.now() - started
  if (result.exitCode !== 0) throw new Error(`${program.join(' ')} exited ${result.exitCode}: ${result.stderr}`)
  return { ms: elapsed, stdout: result.stdout }
}

function answer(stdout: string): { changes?: unknown[]; protocol?: number } {
  const response = decodeMethodResponse(stdout)
  if (response.kind !== 'value') throw new Error(`fault: ${response.faultString}`)
  const value = response.value as { Status: string; Value: string; ErrorDescription?: string[] }
  if (value.Status !== 'Success') throw new Error(`failure: ${JSON.stringify(value.ErrorDescription)}`)
  return JSON.parse(value.Value)
}

export interface PluginCallResult {
  calls: number
  medians: {
    ours: { version: number; apply: number }
    reference: { version: number; apply: number }
    /** `ip netns exec … env -i … /bin/true`: the launch wrapper alone. */
    wrapper: number
  }
  ratios: { version: number; apply: number; versionNetOfWrapper: number; applyNetOfWrapper: number }
  samples: Record<string, number[]>
}

export async function pluginCall(calls: number, hostPlugin: string): Promise<PluginCallResult> {
  const sim = await startSimulator({ scenario: firewallPool({ firewallRunning: true }), hostPlugin })
  try {
    const host = sim.host('host1')
    const target = { ns: host.netns, root: host.root }
    // Bind once for real, so that the measured applies are no-ops.
    await callHostPlugin(hostPlugin, host.netns, host.root, 'apply', { ...APPLY_ARGS, 'gateway-check': '5' })

    const programs = { ours: [hostPlugin], reference: ['python3', REFERENCE_PLUGIN] }
    const xml = { version: xapiEncodedCall('version', {}), apply: xapiEncodedCall('apply', APPLY_ARGS) }

    // Both answer as a Python xmlrpc.client reads them, and the applies are no-ops.
    for (const [name, program] of Object.entries(programs)) {
      for (const fn of ['version', 'apply'] as const) {
        const run = await timedRun(target, program, xml[fn])
        const reply = await parseReply(run.stdout)
        if (reply.status !== 'Success') throw new Error(`${name} ${fn}: ${JSON.stringify(reply.errorDescription)}`)
        const changes = (reply.value as { changes?: unknown[] }).changes
        if (fn === 'apply' && changes?.length !== 0)
          throw new Error(`${name}: the apply is not a no-op: ${JSON.stringify(changes)}`)
      }
    }

    const samples: Record<string, number[]> = {
      'ours.version': [],
      'ours.apply': [],
      'reference.version': [],
      'reference.apply': [],
      wrapper: [],
    }
    // A then B, then B then A: slow drifts of a shared machine fall on both sides alike.
    for (let i = 0; i < calls; i++) {
      const order = i % 2 === 0 ? (['ours', 'reference'] as const) : (['reference', 'ours'] as const)
      for (const fn of ['version', 'apply'] as const) {
        for (const name of order) {
          const run = await timedRun(target, programs[name], xml[fn])
          const value = answer(run.stdout)
          if (fn === 'apply' && value.changes?.length !== 0) throw new Error(`${name}: apply ${i} changed something`)
          samples[`${name}.${fn}`]!.push(run.ms)
        }
      }
      samples.wrapper!.push((await timedRun(target, ['/bin/true'], undefined)).ms)
    }
    const m = (key: string) => median(samples[key]!)
    const wrapper = m('wrapper')
    return {
      calls,
      medians: {
        ours: { version: m('ours.version'), apply: m('ours.apply') },
        reference: { version: m('reference.version'), apply: m('reference.apply') },
        wrapper,
      },
      ratios: {
        version: m('ours.version') / m('reference.version'),
        apply: m('ours.apply') / m('reference.apply'),
        versionNetOfWrapper: (m('ours.version') - wrapper) / (m('reference.version') - wrapper),
        applyNetOfWrapper: (m('ours.apply') - wrapper) / (m('reference.apply') - wrapper),
      },
      samples,
    }
  } finally {
    await sim.stop()
  }
}
