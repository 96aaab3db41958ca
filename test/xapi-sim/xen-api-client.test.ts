// Fidelity: Xen Orchestra's own client (xen-api, unmodified) connects to the simulator
// over JSON-RPC and over XML-RPC, fetches every object, and sees the add/mod/del events of
// a VM start, a migration and a shutdown while the bridge and the VIF veth appear and
// disappear in the right host namespace.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { FIREWALL_POOL } from './scenarios/firewall-pool.ts'
import { type Simulator, startSimulator } from './simulator.ts'
import { connectClient, linkInfo, linkNames, type Transport, waitUntil, type XapiClient } from './test-helpers.ts'

interface Seen {
  type: string
  op: 'add' | 'update' | 'remove'
  id: string
}

for (const transport of ['json-rpc', 'xml-rpc'] as Transport[]) {
  describe(`xen-api client over ${transport}`, () => {
    let sim: Simulator
    let xapi: XapiClient
    const seen: Seen[] = []
    const byId = new Map<string, string>() // $id → $type, to name removals

    before(async () => {
      sim = await startSimulator({ scenario: 'firewall-pool', hostPlugin: false })
      xapi = connectClient(sim, transport)
      for (const op of ['add', 'update', 'remove'] as const) {
        xapi.objects.on(op, (objects: Record<string, any>) => {
          for (const [id, object] of Object.entries(objects)) {
            if (object) byId.set(id, object.$type)
            seen.push({ type: object?.$type ?? byId.get(id) ?? '?', op, id })
          }
        })
      }
      await xapi.connect()
      await xapi.objectsFetched
    })

    after(async () => {
      await xapi?.disconnect().catch(() => undefined)
      await sim?.stop()
    })

    it('logs in and fetches every object with complete records', () => {
      assert.equal(xapi.status, 'connected')
      assert.match(xapi.sessionId, /^OpaqueRef:/)
      assert.equal(xapi.pool.name_label, 'Firewall pool')
      const all = Object.values(xapi.objects.all)
      const ofType = (t: string) => all.filter(o => o.$type === t)
      assert.equal(ofType('host').length, 2)
      assert.equal(ofType('host_metrics').length, 2)
      assert.equal(ofType('VM').length, 3) // firewall + two control domains
      assert.equal(ofType('VM').filter(v => v.is_control_domain).length, 2)
      assert.equal(ofType('network').length, 3)
      assert.equal(ofType('PIF').length, 4)
      assert.equal(ofType('VIF').length, 2)
      assert.equal(ofType('SR').length, 1)
      assert.equal(ofType('PBD').length, 2)

      const host1 = xapi.getObjectByUuid(sim.host('host1').uuid)
      assert.equal(host1.address, FIREWALL_POOL.hostAddresses[0])
      assert.equal(host1.enabled, true)
      assert.equal(host1.$metrics.live, true)
      assert.equal(host1.$control_domain.is_control_domain, true)
      assert.equal(xapi.pool.$master.$ref, host1.$ref)

      const privateNet = ofType('network').find(n => n.name_label === FIREWALL_POOL.privateNetwork)
      assert.equal(privateNet.bridge, 'xapi0')
      assert.deepEqual(privateNet.PIFs, [])
      const management = ofType('PIF').find(p => p.management && p.host === host1.$ref)
      assert.equal(management.IP, FIREWALL_POOL.hostAddresses[0])
      assert.equal(management.$network.bridge, 'xenbr0')

      const firewall = xapi.getObjectByUuid(sim.vm('firewall').uuid)
      assert.equal(firewall.power_state, 'Halted')
      assert.deepEqual(firewall.$VIFs.map((v: any) => v.device).sort(), ['0', '1'])
      assert.equal(firewall.$VIFs[0].currently_attached, false)
      const sr = ofType('SR')[0]
      assert.equal(sr.type, 'nfs')
      assert.equal(sr.$PBDs[0].device_config.server, FIREWALL_POOL.nfsServer)
    })

    it('sees a VM start: VM and VIF mods, console add; bridge and veths appear in host1', async () => {
      const host1 = sim.host('host1')
      assert.ok(!(await linkNames(host1.netns)).includes('xapi0'), 'no private bridge before the start')
      const mark = seen.length
      const firewall = xapi.getObjectByUuid(sim.vm('firewall').uuid)
      await xapi.call('VM.start', firewall.$ref, false, false)

      const vm = await waitUntil('the VM running in the cache', () => {
        const o = xapi.getObjectByUuid(sim.vm('firewall').uuid)
        return o.power_state === 'Running' && o.$VIFs.every((v: any) => v.currently_attached) && o
      })
      assert.equal(vm.resident_on, host1.ref)
      assert.equal(vm.domid, transport === 'json-rpc' ? 1 : '1') // XML-RPC: int64 as a bare string, as xapi sends
      await waitUntil('console add', () => seen.slice(mark).some(s => s.type === 'console' && s.op === 'add'))
      const after = seen.slice(mark)
      assert.ok(after.some(s => s.type === 'VM' && s.op === 'update' && s.id === sim.vm('firewall').uuid))
      assert.ok(after.some(s => s.type === 'VIF' && s.op === 'update'))

      const bridge = await linkInfo(host1.netns, 'xapi0')
      assert.ok(bridge, 'xapi0 exists in host1')
      assert.equal((await linkInfo(host1.netns, 'vif1.0'))?.master, 'xapi0')
      assert.equal((await linkInfo(host1.netns, 'vif1.1'))?.master, 'xenbr1')
      assert.ok(!(await linkNames(sim.host('host2').netns)).includes('xapi0'), 'nothing on host2')
      const guest = await linkNames(sim.vm('firewall').netns)
      assert.ok(guest.includes('eth0') && guest.includes('eth1'))
      const eth0 = await linkInfo(sim.vm('firewall').netns, 'eth0')
      assert.equal(eth0?.address, vm.$VIFs.find((v: any) => v.device === '0').MAC)
    })

    it('sees a migration: task add/del, VM mod, console del+add; the veths move to host2', async () => {
      const mark = seen.length
      const firewall = xapi.getObjectByUuid(sim.vm('firewall').uuid)
      await xapi.callAsync('VM.pool_migrate', firewall.$ref, sim.host('host2').ref, {})
      const vm = await waitUntil('the VM on host2 in the cache', () => {
        const o = xapi.getObjectByUuid(sim.vm('firewall').uuid)
        return o.resident_on === sim.host('host2').ref && o
      })
      assert.equal(vm.power_state, 'Running')
      await waitUntil('task add and remove', () => {
        const s = seen.slice(mark)
        return s.some(e => e.type === 'task' && e.op === 'add') && s.some(e => e.type === 'task' && e.op === 'remove')
      })
      await waitUntil('console remove and add', () => {
        const s = seen.slice(mark)
        return (
          s.some(e => e.type === 'console' && e.op === 'remove') && s.some(e => e.type === 'console' && e.op === 'add')
        )
      })

      const h1 = await linkNames(sim.host('host1').netns)
      assert.ok(!h1.includes('xapi0'), 'the PIF-less bridge left host1 with its last VIF')
      assert.ok(!h1.some(n => n.startsWith('vif')), 'no VIF left on host1')
      assert.ok(h1.includes('xenbr1'), 'PIF bridges stay')
      const h2 = sim.host('host2').netns
      assert.equal((await linkInfo(h2, 'vif1.0'))?.master, 'xapi0')
      assert.equal((await linkInfo(h2, 'vif1.1'))?.master, 'xenbr1')
      assert.ok((await linkNames(sim.vm('firewall').netns)).includes('eth0'))
    })

    it('sees a shutdown, and event.from reports del without snapshot, deletions first', async () => {
      const firewall = xapi.getObjectByUuid(sim.vm('firewall').uuid)
      const token = await xapi.call('event.inject', 'pool', xapi.pool.$ref)
      await xapi.call('VM.clean_shutdown', firewall.$ref)
      const result = await xapi.call('event.from', ['vm', 'console', 'vif'], token, 1.5)
      const events = result.events as any[]
      const del = events.find(e => e.class === 'console' && e.operation === 'del')
      assert.ok(del, 'console del')
      assert.equal('snapshot' in del, false)
      const vmMod = events.find(
        e => e.class === 'vm' && e.operation === 'mod' && e.snapshot.uuid === sim.vm('firewall').uuid,
      )
      assert.equal(vmMod.snapshot.power_state, 'Halted')
      assert.equal(events.filter(e => e.ref === firewall.$ref).length, 1, 'changes of one object coalesce')
      const firstNonDel = events.findIndex(e => e.operation !== 'del')
      assert.ok(
        events.slice(firstNonDel).every(e => e.operation !== 'del'),
        'deletions come first',
      )
      assert.ok(result.token > token, 'tokens are ordered')

      await waitUntil(
        'halted in the cache',
        () => xapi.getObjectByUuid(sim.vm('firewall').uuid).power_state === 'Halted',
      )
      const h2 = await linkNames(sim.host('host2').netns)
      assert.ok(!h2.includes('xapi0'))
      assert.ok(!h2.some(n => n.startsWith('vif')))
      assert.deepEqual(
        (await linkNames(sim.vm('firewall').netns)).filter(n => n.startsWith('eth')),
        [],
      )
      const vifs = xapi.getObjectByUuid(sim.vm('firewall').uuid).$VIFs
      assert.ok(vifs.every((v: any) => v.currently_attached === false))
    })

    it('writes pool.other_config the way Xen Orchestra does (remove then add)', async () => {
      await xapi.pool.update_other_config('xo:clientInfo:test', '{"x":1}')
      await waitUntil('the write in the cache', () => xapi.pool.other_config['xo:clientInfo:test'] === '{"x":1}')
      await xapi.pool.update_other_config('xo:clientInfo:test', '{"x":2}')
      await waitUntil('the rewrite in the cache', () => xapi.pool.other_config['xo:clientInfo:test'] === '{"x":2}')
      await assert.rejects(xapi.call('pool.add_to_other_config', xapi.pool.$ref, 'xo:clientInfo:test', 'y'), {
        code: 'MAP_DUPLICATE_KEY',
      })
    })
  })
}
