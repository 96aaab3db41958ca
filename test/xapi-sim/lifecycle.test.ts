// VM and VIF lifecycle in the kernel: the vif-hotplug hook with xapi's arguments, VIF
// hot-plug and unplug, a PIF-less bridge that lives exactly as long as its last VIF, the
// guest's addresses, and the power-state errors; on Linux bridges and on Open vSwitch ones
// (add-br on the first VIF, del-port on unplug, del-br after the last).

import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ipJson } from '../helpers/netns.ts'
import type { ScenarioDefinition } from './scenario.ts'
import { type Simulator, startSimulator } from './simulator.ts'
import { linkNames, login, rpc } from './test-helpers.ts'
import { BRIDGE_KINDS, BRIDGE_LABELS } from '../helpers/bridges.ts'

const scenario: ScenarioDefinition = {
  name: 'lifecycle',
  hosts: [{ name: 'h1', address: '192.0.2.1' }],
  networks: [{ name: 'private' }],
  vms: [
    { name: 'a', vifs: [{ network: 'private' }], guest: { addresses: { '0': ['198.51.100.1/24'] }, listen: [8080] } },
    { name: 'b', vifs: [{ network: 'private' }], guest: { addresses: { '0': ['198.51.100.2/24'] } } },
  ],
}

for (const kind of BRIDGE_KINDS) {
  describe(`VM and VIF lifecycle on ${BRIDGE_LABELS[kind]}`, () => {
    let sim: Simulator
    let session: string
    let hookLog: string

    before(async () => {
      sim = await startSimulator({ scenario, hostPlugin: false, bridges: kind })
      session = await login(sim)
      hookLog = join(sim.host('h1').root, 'tmp/hook.log')
      // The hook records its argv and environment, one JSON line per run.
      await sim.installVifHotplug({
        content: `#!${process.execPath}\nrequire('fs').appendFileSync(${JSON.stringify(hookLog)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env, links: require('fs').readdirSync('/sys/class/net') }) + '\\n')\n`,
      })
    })
    after(async () => sim?.stop())

    const hookRuns = async () =>
      (await readFile(hookLog, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map(l => JSON.parse(l))

    it('VM.start plugs the VIF on xapi0 and runs vif-hotplug -action online with the uuids, inside dom0', async () => {
      assert.deepEqual(await sim.bridges('h1').list(), [], 'no bridge for a PIF-less network before its first VIF')
      await rpc(sim, 'VM.start', session, sim.vm('a').ref, false, false)
      const vif = sim.vifs('a')['0']!
      const ifname = sim.vifInterface(vif)
      assert.equal(ifname, 'vif1.0')
      assert.deepEqual(await sim.bridges('h1').list(), ['xapi0'])
      assert.deepEqual(await sim.bridges('h1').ports('xapi0'), [ifname])
      assert.equal(sim.record('VIF', vif).currently_attached, true)
      const runs = await hookRuns()
      assert.equal(runs.length, 1)
      assert.deepEqual(runs[0].argv, [
        '-action',
        'online',
        '-vifuuid',
        sim.record('VIF', vif).uuid,
        '-vmuuid',
        sim.vm('a').uuid,
      ])
      assert.deepEqual(Object.keys(runs[0].env).sort(), ['PATH', 'VIF_IP_BINDER_ROOT'])
      assert.ok(runs[0].links.includes('vif1.0'), 'the hook runs in the host namespace after the VIF joined')
      const addrs = await ipJson<any[]>(sim.vm('a').netns, 'addr', 'show', 'dev', 'eth0')
      assert.equal(addrs[0].addr_info.find((a: any) => a.family === 'inet').local, '198.51.100.1')
      const attached = sim.timeline.entries({ kind: 'vif.attached', vif: sim.record('VIF', vif).uuid as string })
      assert.equal(attached.length, 1)
      assert.ok(attached[0]!.at > Date.now() - 60_000 && attached[0]!.at <= Date.now() + 1)
    })

    it('errors: VM_BAD_POWER_STATE, DEVICE_ALREADY_ATTACHED / DETACHED', async () => {
      await assert.rejects(rpc(sim, 'VM.start', session, sim.vm('a').ref, false, false), {
        code: 'VM_BAD_POWER_STATE',
        params: [sim.vm('a').ref, 'halted', 'running'],
      })
      await assert.rejects(rpc(sim, 'VM.clean_shutdown', session, sim.vm('b').ref), { code: 'VM_BAD_POWER_STATE' })
      await assert.rejects(rpc(sim, 'VIF.plug', session, sim.vifs('a')['0']), { code: 'DEVICE_ALREADY_ATTACHED' })
      await assert.rejects(rpc(sim, 'VIF.plug', session, sim.vifs('b')['0']), { code: 'VM_BAD_POWER_STATE' })
    })

    it('the guests talk over the bridge; the bridge stays while another VIF is on it', async () => {
      await sim.startVm('b')
      const h = sim.host('h1').netns
      assert.deepEqual((await sim.bridges('h1').ports('xapi0')).sort(), ['vif1.0', 'vif2.0'])
      const { probeTcp } = await import('./netns-tools.ts')
      assert.equal((await probeTcp(sim.vm('b').netns, '198.51.100.1', 8080, 2000)).ok, true)
      await rpc(sim, 'VIF.unplug', session, sim.vifs('a')['0'])
      assert.equal(sim.record('VIF', sim.vifs('a')['0']!).currently_attached, false)
      const links = await linkNames(h)
      assert.ok(!links.includes('vif1.0'))
      assert.ok(links.includes('xapi0'), 'b still uses the bridge')
      assert.deepEqual(await sim.bridges('h1').ports('xapi0'), ['vif2.0'])
      assert.equal((await probeTcp(sim.vm('b').netns, '198.51.100.1', 8080, 500)).ok, false)
      const runs = await hookRuns()
      assert.deepEqual(runs.at(-1).argv.slice(0, 2), ['-action', 'remove'])
      await assert.rejects(rpc(sim, 'VIF.unplug', session, sim.vifs('a')['0']), { code: 'DEVICE_ALREADY_DETACHED' })
    })

    it('VIF.plug re-plugs (with the guest address back); the bridge goes with the last VIF', async () => {
      await rpc(sim, 'VIF.plug', session, sim.vifs('a')['0'])
      const { probeTcp } = await import('./netns-tools.ts')
      assert.equal((await probeTcp(sim.vm('b').netns, '198.51.100.1', 8080, 2000)).ok, true)
      await rpc(sim, 'VM.clean_shutdown', session, sim.vm('a').ref)
      assert.ok((await linkNames(sim.host('h1').netns)).includes('xapi0'))
      await rpc(sim, 'VM.hard_shutdown', session, sim.vm('b').ref)
      const links = await linkNames(sim.host('h1').netns)
      assert.ok(!links.includes('xapi0'), `links: ${links}`)
      assert.deepEqual(await sim.bridges('h1').list(), [])
      assert.ok(sim.timeline.entries({ kind: 'bridge.destroyed' }).length >= 1)
      assert.equal(sim.record('VM', sim.vm('a').ref).power_state, 'Halted')
      assert.equal(sim.record('VM', sim.vm('a').ref).domid, -1)
      assert.deepEqual(sim.record('host', sim.host('h1').ref).resident_VMs, [
        sim.record('host', sim.host('h1').ref).control_domain,
      ])
    })

    it('domids grow per host and the new vif name follows', async () => {
      await sim.startVm('a')
      assert.equal(sim.vifInterface(sim.vifs('a')['0']!), 'vif3.0')
      assert.ok((await linkNames(sim.host('h1').netns)).includes('vif3.0'))
      await sim.shutdownVm('a')
    })
  })
}
