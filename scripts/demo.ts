// npm run demo: the whole story on one machine, in a few seconds. A simulated two-host
// pool whose dom0s have no network of their own (the "firewall pool" scenario: real network
// namespaces, the real host plugin), Xen Orchestra's XAPI client, and the built XO plugin
// loaded as xo-server would load it. It starts the firewall VM and shows, with
// milliseconds, dom0 getting its address, its default route and its way out; then migrates
// the VM, stops it, and shows the release. `npm run demo -- --bridges ovs` does it all on
// Open vSwitch bridges, XCP-ng's default, instead of Linux bridges.

import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import type { BridgeKind } from '../test/helpers/bridges.ts'
import type { PluginFactory } from '../test/xo-facade/facade.ts'
import type { Simulator } from '../test/xapi-sim/simulator.ts'

if (process.getuid?.() !== 0) {
  console.error('npm run demo needs root: it builds network namespaces standing for the hosts and the firewall VM.')
  console.error('Run it as root, e.g.: sudo npm run demo')
  process.exit(1)
}

const { FIREWALL_POOL: F, addresses, defaultRoute, pings, startHarness } = await import('../test/e2e/helpers.ts')
const { BRIDGE_LABELS, parseBridgeKind } = await import('../test/helpers/bridges.ts')
const { now } = await import('../test/xapi-sim/timeline.ts')
const { KernelWatch } = await import('../test/helpers/kernel-watch.ts')

let bridges: BridgeKind
try {
  const { values } = parseArgs({ options: { bridges: { type: 'string', default: 'linux' } } })
  bridges = parseBridgeKind(values.bridges!)
} catch (error) {
  console.error(`npm run demo: ${(error as Error).message}\nusage: npm run demo [-- --bridges linux|ovs]`)
  process.exit(2)
}

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const pluginDir = join(repo, 'dist/xo-plugin')
// Built from the current sources every time: the demo shows what the build ships.
const build = await execa(process.execPath, ['--import', 'tsx', join(repo, 'scripts/build.ts')], {
  cwd: repo,
  reject: false,
  stdin: 'ignore',
  stdout: 'inherit',
  stderr: 'inherit',
})
if (build.exitCode !== 0) {
  console.error('npm run demo: the build failed (see above).')
  process.exit(1)
}
const manifest = JSON.parse(readFileSync(join(pluginDir, 'package.json'), 'utf8')) as {
  name: string
  version: string
  main: string
}

// Every time is milliseconds since the section's action, on the simulator's clock.
let t0 = now()
const line = (at: number, text: string) => console.log(`  ${(at - t0).toFixed(0).padStart(6)} ms  ${text}`)
const section = (title: string) => {
  console.log(`\n${title}`)
  t0 = now()
}

// The plugin logs through @xen-orchestra/log, whose output the host application routes:
// here, into the timeline.
;(globalThis as Record<symbol, unknown>)[Symbol.for('@xen-orchestra/log')] = (log: {
  level: number
  message: string
}) => {
  if (log.level >= 30) line(now(), `XO plugin: ${log.message.split('\n')[0]}`)
}

function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Prints each milestone when it happens; together they come out in the order they happened. */
function milestones(steps: [string, Promise<number>][]): Promise<unknown> {
  return Promise.all(steps.map(async ([label, at]) => line(await within(at, label), label)))
}

async function firstPing(ns: string, address: string): Promise<number> {
  for (;;) {
    if (await pings(ns, address)) return now()
  }
}

function vifAttached(sim: Simulator, host: string): Promise<number> {
  const vif = sim.vifs(F.firewallVm)['0']
  const hostUuid = sim.host(host).uuid
  return sim.timeline
    .waitFor(e => e.kind === 'vif.attached' && e.host === hostUuid && e.vif === sim.record('VIF', vif!).uuid, {
      since: t0,
    })
    .then(e => e.at)
}

const { default: factory } = (await import(pathToFileURL(join(pluginDir, manifest.main)).href)) as {
  default: PluginFactory
}
console.log(
  `vif-ip-binder demo: ${manifest.name} ${manifest.version} loaded by a thin XO facade, simulated pool "firewall-pool" on ${BRIDGE_LABELS[bridges]}`,
)
const h = await startHarness({ bridges }, factory)
const watches: InstanceType<typeof KernelWatch>[] = []
let failed = false
try {
  const { sim, plugin, binding } = h
  const [host1, host2] = [sim.host('host1').netns, sim.host('host2').netns]
  const [watch1, watch2] = [new KernelWatch(host1), new KernelWatch(host2)]
  watches.push(watch1, watch2)
  const address = new RegExp(`^(?!Deleted).*${F.privateBridge}\\s+inet ${F.hostAddresses[0].replace(/\./g, '\\.')}/24`)
  const mirror = new RegExp(`xenbr0\\s+inet ${F.hostAddresses[0].replace(/\./g, '\\.')}/32`)
  const route = new RegExp(`^default via ${F.firewallPrivateAddress.replace(/\./g, '\\.')} dev ${F.privateBridge}`)
  const deleted = (pattern: RegExp) => new RegExp(`^Deleted.*${pattern.source.replace(/^\^(\(\?!Deleted\)\.\*)?/, '')}`)

  console.log(`  pool: host1, host2 (dom0 namespaces ${host1}, ${host2}); firewall VM "${F.firewallVm}" halted`)
  console.log(`  binding: ${JSON.stringify({ ...binding, vm: `${F.firewallVm} (${binding.vm})` })}`)
  t0 = now()
  await plugin.configure({ bindings: [binding] })
  await plugin.load()
  await plugin.instance.whenIdle()
  console.log(
    `  host1 before: default route ${await defaultRoute(host1)}; reaches the firewall: ${await pings(host1, F.firewallPrivateAddress)}`,
  )

  section('1. Start the firewall VM on host1')
  const started = sim.startVm(F.firewallVm, 'host1')
  await milestones([
    [`VIF attached on host1 (${bridges === 'ovs' ? 'OVS ' : ''}bridge ${F.privateBridge})`, vifAttached(sim, 'host1')],
    [`addresses bound: ${F.hostAddresses[0]}/24 on ${F.privateBridge}`, watch1.when(address)],
    [`management mirror: ${F.hostAddresses[0]}/32 on xenbr0`, watch1.when(mirror)],
    [`default route switched: via ${F.firewallPrivateAddress} dev ${F.privateBridge}`, watch1.when(route)],
    [
      `firewall ${F.firewallPrivateAddress} reachable from host1's dom0 (ping)`,
      firstPing(host1, F.firewallPrivateAddress),
    ],
    [`NFS server ${F.nfsServer} reachable from host1's dom0, through the firewall`, firstPing(host1, F.nfsServer)],
  ])
  await started
  await plugin.instance.whenIdle()

  section('2. Migrate the firewall VM to host2')
  const migrated = sim.migrateVm(F.firewallVm, 'host2')
  // Fresh watches: the first ones remember host1's binding, which would match at once.
  const [w1, w2] = [new KernelWatch(host1), new KernelWatch(host2)]
  watches.push(w1, w2)
  await milestones([
    [`VIF attached on host2`, vifAttached(sim, 'host2')],
    [`addresses bound on host2`, w2.when(address)],
    [`default route of host2 switched to the firewall`, w2.when(route)],
    [`firewall reachable from host2's dom0`, firstPing(host2, F.firewallPrivateAddress)],
    [`host1: management mirror released`, w1.when(deleted(mirror))],
  ])
  await migrated
  await plugin.instance.whenIdle()
  console.log(
    `  host1 after: addresses on ${F.privateBridge}: ${(await addresses(host1))[F.privateBridge]?.join(', ') || 'none (bridge gone)'}; default route ${await defaultRoute(host1)}`,
  )

  section('3. Stop the firewall VM')
  const w3 = new KernelWatch(host2)
  watches.push(w3)
  await sim.shutdownVm(F.firewallVm)
  await milestones([[`host2: management mirror released`, w3.when(deleted(mirror))]])
  await plugin.instance.whenIdle()
  console.log(
    `  host2 after: addresses on ${F.privateBridge}: ${(await addresses(host2))[F.privateBridge]?.join(', ') || 'none (bridge gone)'}; default route ${await defaultRoute(host2)}`,
  )

  section('4. The Test button')
  try {
    const report = (await plugin.test({})) as { text: string }
    console.log(report.text.replace(/^/gm, '  '))
  } catch (error) {
    console.log((error as Error).message.replace(/^/gm, '  '))
  }
} catch (error) {
  failed = true
  console.error(`\ndemo failed: ${(error as Error).stack ?? error}`)
} finally {
  for (const watch of watches) watch.stop()
  await h.close()
  console.log('\ncleaned up: plugin unloaded, simulator stopped, namespaces removed.')
}
process.exit(failed ? 1 : 0)
