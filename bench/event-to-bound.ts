// Measurement 1: event → bound. From the firewall VIF's link appearing in the host's kernel
// to the moment dom0's address, its management mirror and its default route through the
// firewall are all there, every instant from the kernel's own events (`ip monitor`, not
// polling), for each path:
//   - XO: the XO plugin, loaded through the xo-server facade in a process of its own (as
//     xo-server is never xapi's process: bench/xo-process-client.ts), sees the VIF plug in
//     the event stream and calls host.call_plugin apply;
//   - vif-hotplug: no XO at all; the host plugin installed with `install --root`, the
//     bindings in pool.other_config, xapi's vif-hotplug hook as the only trigger;
//   - its floor: the minimal shell hook (bench/shell-hook.ts) installed as vif-hotplug
//     instead, alternated run by run with each path in that path's own simulator (for the
//     XO path, with the XO plugin unloaded during the shell hook's runs), so that each ratio
//     compares runs made under the same load.
// Then, ours installed: what the hook costs for a VIF no binding names (CPU, as a process,
// and whether it logged in to xapi).
// The VM is stopped between runs and the release awaited, so each run starts clean.

import { execa } from 'execa'
import { POOL_CONFIG_KEY, encodePoolConfig, parseBinding, toPoolBinding } from '../shared/binding.ts'
import { firewallBinding, hostEndpoints } from '../test/e2e/helpers.ts'
import { type XoProcess, startXoProcess } from './xo-process-client.ts'
import { XAPI_PATH } from '../test/helpers/host-plugin.ts'
import { FIREWALL_POOL as F, firewallPool } from '../test/xapi-sim/scenarios/firewall-pool.ts'
import { type Simulator, startSimulator } from '../test/xapi-sim/simulator.ts'
import { login, rpc } from '../test/xapi-sim/test-helpers.ts'
import { type KernelWatch, escapeDots, readyWatch } from './kernel.ts'
import { shellHook } from './shell-hook.ts'
import { bunBinary } from '../scripts/bun-compile.ts'
import { EXECUTABLE, HOOK as HOOK_PATH } from '../xapi-plugin/runtime/layout.ts'
import { ipJson } from '../test/helpers/netns.ts'
import { join } from 'node:path'
import { PROCESS_COST, type ProcessSample } from './plugin-call.ts'
import { type Summary, median, summarize, within } from './stats.ts'

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

const LINK = /^\d+: vif\d+\.0[@:]/

interface Run {
  total: number
  address: number
  mirror: number
  route: number
}

/** One start of the firewall VM on host1, measured; then its stop, with the release awaited. */
async function oneRun(sim: Simulator, settle: () => Promise<void>): Promise<Run> {
  const host = sim.host(HOST)
  const watch = await readyWatch(host.netns, ['link', 'address', 'route'])
  let release: KernelWatch | undefined
  try {
    await sim.startVm(F.firewallVm, HOST)
    const [at, address, mirror, route] = await within(
      Promise.all([watch.when(LINK), watch.when(ADDRESS), watch.when(MIRROR), watch.when(ROUTE)]),
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

function pathResult(runs: Run[]): PathResult {
  return {
    samples: runs.map(r => r.total),
    summary: summarize(runs.map(r => r.total)),
    milestones: runs.map(({ address, mirror, route }) => ({ address, mirror, route })),
  }
}

export interface XoPathResult {
  xo: PathResult
  /** The shell hook, alternated with the XO path in the same simulator. */
  shell: PathResult
  /** xo / shell, medians */
  ratio: number
}

export async function xoPath(runs: number, hostPlugin: string): Promise<XoPathResult> {
  // The e2e harness's pool (firewall-pool, the built host plugin, no vif-hotplug hook); its
  // Xen Orchestra (the facade, the xen-api client, the XO plugin) in a process of its own.
  const sim = await startSimulator({ scenario: 'firewall-pool', hostPlugin })
  let xo: XoProcess | undefined
  try {
    const { url, user, password } = sim.describe()
    xo = await startXoProcess({
      server: { url, user, password },
      hostUrls: await hostEndpoints(sim),
      bindings: [firewallBinding(sim)],
    })
    const plugin = xo
    const shell = { content: await shellHookFor(sim) }
    const settle = { xo: () => plugin.whenIdle(), shell: afterShellHook }
    // Either the XO plugin loaded and no hook, or the shell hook and the plugin unloaded.
    const use = async (which: 'xo' | 'shell') => {
      if (which === 'xo') {
        await sim.removeVifHotplug([HOST])
        await plugin.load()
        await plugin.whenIdle()
      } else {
        await plugin.unload()
        await sim.installVifHotplug(shell, [HOST])
      }
    }
    const results: Record<'xo' | 'shell', Run[]> = { xo: [], shell: [] }
    let current: 'xo' | 'shell' | undefined
    for (let i = 0; i < 2 * runs; i++) {
      const which = (i >> 1) % 2 === i % 2 ? 'xo' : 'shell' // xo shell, shell xo, …
      if (which !== current) await use((current = which))
      results[which].push(await oneRun(sim, settle[which]))
    }
    const result = { xo: pathResult(results.xo), shell: pathResult(results.shell) }
    return { ...result, ratio: result.xo.summary.p50 / result.shell.summary.p50 }
  } finally {
    await xo?.close()
    await sim.stop()
  }
}

/** A hook's detached work ends a little after the kernel shows the binding: let it go. */
const afterShellHook = () => new Promise<void>(resolve => setTimeout(resolve, 100))

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

export interface HotplugResult {
  ours: PathResult
  shell: PathResult
  /** ours / shell, medians */
  ratio: number
  /** Ours as the hook for a VIF no binding names (another network's, another VM's). */
  otherVif: { cpuMs: number; wallMs: number; maxRssMiB: number | null; logins: number; runs: number }
}

async function installOurs(sim: Simulator, hostPlugin: string): Promise<void> {
  for (const host of sim.hosts) {
    const result = await execa(hostPlugin, ['install', '--root', host.root], {
      env: { PATH: XAPI_PATH },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    })
    if (result.exitCode !== 0) throw new Error(`install --root ${host.root} failed: ${result.stderr}`)
  }
}

async function shellHookFor(sim: Simulator): Promise<string> {
  const host = sim.host(HOST)
  const [previous] = await ipJson<{ gateway?: string; dev?: string }[]>(host.netns, 'route', 'show', 'default')
  return shellHook({
    vif: sim.record('VIF', sim.vifs(F.firewallVm)['0']!).uuid as string,
    vm: sim.vm(F.firewallVm).uuid,
    bridge: F.privateBridge,
    address: F.hostAddresses[0],
    prefix: 24,
    managementBridge: 'xenbr0',
    gateway: F.firewallPrivateAddress,
    previousDefault: previous?.gateway ? `default via ${previous.gateway} dev ${previous.dev}` : undefined,
  })
}

/** Ours as the hook for VIFs no binding names: CPU per process, and xapi logins (none expected). */
async function otherVifCost(sim: Simulator, runs: number): Promise<HotplugResult['otherVif']> {
  const host = sim.host(HOST)
  const hook = join(host.root, HOOK_PATH)
  const online = (vif: string, vm: string) => [hook, '-action', 'online', '-vifuuid', vif, '-vmuuid', vm]
  const lanVif = sim.record('VIF', sim.vifs(F.firewallVm)['1']!).uuid as string
  const programs = {
    lanVif: online(lanVif, sim.vm(F.firewallVm).uuid),
    otherVm: online(lanVif, '0f0e0d0c-0b0a-4998-8776-655443322110'),
  }
  let logins = 0
  const login = sim.sessions.login.bind(sim.sessions)
  sim.sessions.login = (...args) => (logins++, login(...args))
  try {
    const env = ['env', '-i', `PATH=${XAPI_PATH}`, `VIF_IP_BINDER_ROOT=${host.root}`]
    const measure = [bunBinary(), PROCESS_COST, String(runs), JSON.stringify(programs)]
    const result = await execa('ip', ['netns', 'exec', host.netns, ...env, ...measure], { stdin: 'ignore' })
    await new Promise(resolve => setTimeout(resolve, 500)) // a worker, had one started, would log in by now
    const samples = Object.values(JSON.parse(result.stdout) as Record<string, ProcessSample[]>).flat()
    const rss = samples.map(s => s.maxRssMiB).filter((m): m is number => m !== null)
    return {
      cpuMs: median(samples.map(s => s.cpuMs)),
      wallMs: median(samples.map(s => s.wallMs)),
      maxRssMiB: rss.length ? median(rss) : null,
      logins,
      runs: samples.length,
    }
  } finally {
    sim.sessions.login = login
  }
}

export async function hotplugPath(runs: number, hostPlugin: string): Promise<HotplugResult> {
  const sim = await startSimulator({ scenario: firewallPool(), hostPlugin: false })
  try {
    await installOurs(sim, hostPlugin)
    await writePoolBindings(sim)
    const ours = { source: join(sim.host(HOST).root, EXECUTABLE) }
    const shell = { content: await shellHookFor(sim) }
    const settle = afterShellHook
    // Unmeasured: the first start has no index yet (the worker writes it).
    await oneRun(sim, settle)
    const results: Record<'ours' | 'shell', Run[]> = { ours: [], shell: [] }
    for (let i = 0; i < 2 * runs; i++) {
      const which = (i >> 1) % 2 === i % 2 ? 'ours' : 'shell' // ours shell, shell ours, …
      await sim.installVifHotplug(which === 'ours' ? ours : shell, [HOST])
      results[which].push(await oneRun(sim, settle))
    }
    await sim.installVifHotplug(ours, [HOST])
    const result = { ours: pathResult(results.ours), shell: pathResult(results.shell) }
    return {
      ...result,
      ratio: result.ours.summary.p50 / result.shell.summary.p50,
      otherVif: await otherVifCost(sim, runs),
    }
  } finally {
    await sim.stop()
  }
}
