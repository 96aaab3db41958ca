// The XO plugin end to end: loaded through the xen-api-backed facade, connected to the
// simulated firewall pool whose hosts are network namespaces running the real host plugin.
// Everything is asserted on the hosts' kernels and with real pings.

import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { BUILT_HOST_PLUGIN, HOST_PLUGIN_NAME } from '../xapi-sim/simulator.ts'
import { BRIDGE_KINDS, BRIDGE_LABELS } from '../helpers/bridges.ts'
import { ip } from '../helpers/netns.ts'
import { failureMatching, failureText } from '../helpers/test-failure.ts'
import factory from '../../xo-plugin/index.ts'
import type { VifIpBinderPlugin } from '../../xo-plugin/plugin.ts'
import { PluginHost, type PluginFactory } from '../xo-facade/facade.ts'
import {
  FIREWALL_POOL as F,
  type Harness,
  addresses,
  defaultRoute,
  pings,
  poolCopy,
  startHarness,
  waitFor,
} from './helpers.ts'

let h: Harness | undefined

afterEach(async () => {
  await h?.close()
  h = undefined
})

const BOUND_DEFAULT = `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`

async function bound(ns: string): Promise<boolean> {
  const addrs = await addresses(ns)
  return (
    (addrs[F.privateBridge] ?? []).includes(`${F.hostAddresses[0]}/24`) && (await defaultRoute(ns)) === BOUND_DEFAULT
  )
}

async function released(ns: string): Promise<boolean> {
  const addrs = await addresses(ns)
  return (
    !(addrs[F.privateBridge] ?? []).includes(`${F.hostAddresses[0]}/24`) &&
    !(addrs.xenbr0 ?? []).includes(`${F.hostAddresses[0]}/32`)
  )
}

// The firewall's life (start, migrate, stop) on both kinds of bridge XCP-ng uses.
for (const kind of BRIDGE_KINDS) {
  describe(`XO plugin end to end on ${BRIDGE_LABELS[kind]}`, { timeout: 120_000 }, () => {
    it('binds when the firewall VM starts and releases when it stops', async () => {
      h = await startHarness({ bridges: kind })
      const { sim, plugin, binding } = h
      const host1 = sim.host('host1').netns
      // A default route of dom0's own (through the management bridge): the binding replaces
      // it, and it must come back after the bridge and its routes are gone.
      await ip(host1, 'route', 'add', 'default', 'dev', 'xenbr0')
      const before = await defaultRoute(host1)
      assert.equal(before, 'via - dev xenbr0')
      await plugin.configure({ bindings: [{ ...binding, managementAddress: undefined }] })
      await plugin.load()
      await plugin.instance.whenIdle()

      await sim.startVm(F.firewallVm, 'host1')
      await waitFor('the binding on host1', () => bound(host1))
      assert.equal(await pings(host1, F.firewallPrivateAddress), true, 'dom0 reaches the firewall')
      assert.equal(await pings(host1, F.nfsServer), true, 'dom0 reaches the NFS server through the firewall')

      await sim.shutdownVm(F.firewallVm)
      await waitFor('the release on host1', () => released(host1))
      await plugin.instance.whenIdle()
      assert.equal(await defaultRoute(host1), before, 'the previous default route is back')
      assert.deepEqual(plugin.instance.pendingKeys(), [])
    })

    it('moves the binding when the VM migrates, and releases it when the VM stops', async () => {
      h = await startHarness({ bridges: kind })
      const { sim, plugin, binding } = h
      const [host1, host2] = [sim.host('host1').netns, sim.host('host2').netns]
      await ip(host1, 'route', 'add', 'default', 'dev', 'xenbr0')
      const before = await defaultRoute(host1)
      await plugin.configure({ bindings: [{ ...binding, managementAddress: undefined }] })
      await plugin.load()
      await sim.startVm(F.firewallVm, 'host1')
      await waitFor('the binding on host1', () => bound(host1))

      await sim.migrateVm(F.firewallVm, 'host2')
      await waitFor('the binding on host2', () => bound(host2))
      await waitFor('the release on host1', () => released(host1))
      await plugin.instance.whenIdle()
      assert.equal(await defaultRoute(host1), before, 'host1 has its previous default route back')
      assert.equal(await pings(host2, F.firewallPrivateAddress), true)

      await sim.shutdownVm(F.firewallVm)
      await waitFor('the release on host2', () => released(host2))
      await plugin.instance.whenIdle()
      assert.deepEqual(plugin.instance.pendingKeys(), [])
    })
  })
}

describe('XO plugin end to end', { timeout: 120_000 }, () => {
  it('mirrors the management address, and still gives the previous default route back on release', async () => {
    h = await startHarness()
    const { sim, plugin, binding } = h
    const host1 = sim.host('host1').netns
    await ip(host1, 'route', 'add', 'default', 'dev', 'xenbr0')
    const before = await defaultRoute(host1)
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the binding on host1', () => bound(host1))
    const addrs = await addresses(host1)
    assert.ok(
      addrs.xenbr0?.includes(`${F.hostAddresses[0]}/32`),
      `management mirror on xenbr0: ${JSON.stringify(addrs)}`,
    )

    await sim.shutdownVm(F.firewallVm)
    await waitFor('the release on host1', () => released(host1))
    await plugin.instance.whenIdle()
    assert.equal(await defaultRoute(host1), before, 'the previous default route is back')
  })

  it('writes the pool copy, takes a new configuration at once, and refuses a bad one without changing anything', async () => {
    h = await startHarness()
    const { sim, plugin, binding } = h
    const host1 = sim.host('host1').netns
    await plugin.configure({ bindings: [binding] })
    const copy = JSON.parse(poolCopy(sim)!)
    assert.equal(copy.version, 1)
    assert.equal(copy.bindings[0].network, sim.record('network', F.privateNetwork).uuid, 'network resolved to its UUID')
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the binding on host1', () => bound(host1))

    // Without a confirmation window: this change moves the host off the address Xen Orchestra
    // reaches it at, which xo-confirm.test.ts covers.
    await plugin.configure({
      bindings: [{ ...binding, addresses: ['10.77.0.5/24'], managementAddress: undefined }],
      confirmSeconds: 0,
    })
    await waitFor('the new address', async () => (await addresses(host1))[F.privateBridge]?.join() === '10.77.0.5/24')
    assert.equal(await defaultRoute(host1), BOUND_DEFAULT)
    assert.ok(
      !(await addresses(host1)).xenbr0?.includes(`${F.hostAddresses[0]}/32`),
      'the mirror left with the managementAddress',
    )
    assert.deepEqual(JSON.parse(poolCopy(sim)!).bindings[0].addresses, ['10.77.0.5/24'])

    const kernelBefore = await addresses(host1)
    const copyBefore = poolCopy(sim)
    await assert.rejects(
      plugin.configure({ bindings: [{ ...binding, addresses: ['10.77.0.5/33'] }] }),
      /binding 1 .*addresses: "10\.77\.0\.5\/33"/,
    )
    await assert.rejects(
      plugin.configure({ bindings: [{ ...binding, network: 'No such network' }] }),
      /network "No such network" not found in pool "Firewall pool"/,
    )
    await assert.rejects(
      plugin.configure({ bindings: [{ ...binding, network: F.lanNetwork, gateways: ['10.99.0.1'] }] }),
      /gateways: "10\.99\.0\.1" is outside every bound prefix/,
    )
    await plugin.instance.whenIdle()
    assert.deepEqual(await addresses(host1), kernelBefore)
    assert.equal(poolCopy(sim), copyBefore)

    await plugin.configure({ bindings: [] })
    await waitFor('the release on host1', async () => !(await addresses(host1))[F.privateBridge]?.length)
    assert.equal(poolCopy(sim), undefined, 'the key is removed when the pool has no binding')
  })

  it('binds a VM started while xapi was unreachable once the connection is back', async () => {
    h = await startHarness()
    const { sim, plugin, binding } = h
    const host1 = sim.host('host1').netns
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await plugin.instance.whenIdle()
    const restarting = sim.restart({ downtimeMs: 1500 })
    await sim.startVm(F.firewallVm, 'host1')
    await restarting
    await waitFor('the binding on host1 after the reconnection', () => bound(host1), 30_000)
  })

  it('reconciles when XO reconnects the pool', async () => {
    h = await startHarness()
    const { sim, xo, plugin, binding } = h
    const host1 = sim.host('host1').netns
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await plugin.instance.whenIdle()
    await xo.disconnectServer('firewall-pool')
    await sim.startVm(F.firewallVm, 'host1')
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(await bound(host1), false, 'nothing is done for a pool XO is not connected to')
    const { url, user, password } = sim.describe()
    await xo.connectServer('firewall-pool', { url, user, password })
    await waitFor('the binding on host1 after the reconnection', () => bound(host1))
  })

  it("binds a firewall's VIF plug before xo-server's paced event stream brings it to the cache", async () => {
    h = await startHarness()
    const { sim, xo, plugin, binding } = h
    const host1 = sim.host('host1').netns
    // xo-server's client pauses before each event.from (200 ms by default); a long pause here
    // shows that the binding does not wait for it: the plug is seen by the plugin's own watch.
    await xo.disconnectServer('firewall-pool')
    const { url, user, password } = sim.describe()
    const xapi = await xo.connectServer('firewall-pool', { url, user, password, debounceMs: 15_000 })
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await plugin.instance.whenIdle()
    const vifUuid = sim.record('VIF', sim.vifs(F.firewallVm)['0']!).uuid as string
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the binding on host1', () => bound(host1), 10_000)
    const cached = xapi.objects.all[vifUuid] as { currently_attached?: boolean } | undefined
    assert.equal(cached?.currently_attached, false, "the cache has not seen the plug yet: it was not the cache's doing")
  })

  it('keeps a saved binding whose network was renamed: no release, and xo-server still loads the plugin', async () => {
    h = await startHarness()
    const { sim, xo, plugin, binding } = h
    const host1 = sim.host('host1').netns
    await plugin.configure({ bindings: [binding] }) // the network by its name, as typed on the settings page
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the binding on host1', () => bound(host1))
    await plugin.instance.whenIdle()
    const document = poolCopy(sim)
    const xapi = xo.getAllXapis()['firewall-pool']!
    const [network] = (await xapi.call('network.get_by_name_label', F.privateNetwork)) as string[]
    await xapi.call('network.set_name_label', network, 'dom0 link')
    // The pool reconnects: the binding no longer resolves, and it stays where it is.
    await xo.disconnectServer('firewall-pool')
    const { url, user, password } = sim.describe()
    await xo.connectServer('firewall-pool', { url, user, password })
    await plugin.instance.whenIdle()
    assert.equal(poolCopy(sim), document, "the pool's document is left as it was")
    assert.equal(await bound(host1), true, 'host1 is still bound')
    // xo-server restarts: it re-applies the saved configuration before loading the plugin.
    await plugin.unload()
    const again = new PluginHost<VifIpBinderPlugin>(factory as unknown as PluginFactory, xo)
    try {
      await again.start()
      await again.load()
      await again.instance.whenIdle()
      await assert.rejects(again.test({}), failureMatching(/PROBLEM: .*network "Private dom0 link" not found/))
      assert.equal(poolCopy(sim), document)
      assert.equal(await bound(host1), true)
    } finally {
      await again.unload()
    }
  })

  it('reports a host without the host plugin in test()', async () => {
    h = await startHarness()
    const { sim, plugin, binding } = h
    await rm(join(sim.host('host2').root, 'etc/xapi.d/plugins', HOST_PLUGIN_NAME), { force: true })
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the binding on host1', () => bound(sim.host('host1').netns))
    await assert.rejects(plugin.test({}), (error: Error) => {
      assert.match(
        failureText(error),
        /host "host2": PROBLEM: host plugin vif-ip-binder is not installed: on that host, yum install vif-ip-binder-.*\.rpm/,
      )
      assert.doesNotMatch(failureText(error), /host "host1"/, 'what is in order stays in the task')
      return true
    })
    // The whole report: the Test's XO task.
    const [entry] = h.xo.tasks.logs.at(-1)!.infos
    assert.match(entry!.message, /host "host1": vif-ip-binder \d+\.\d+\.\d+ \(protocol 1\)/)
    assert.match(entry!.message, /in sync: addresses 10\.77\.0\.2\/24/)
    await sim.installPlugin(HOST_PLUGIN_NAME, BUILT_HOST_PLUGIN, ['host2'])
    const report = (await plugin.test({})) as { ok: boolean }
    assert.equal(report.ok, true)
  })

  it("flags the firewall VIF's TX checksum offload in test(), and the opt-in setting turns it off", async () => {
    h = await startHarness()
    const { sim, plugin, binding } = h
    const vif = sim.vifs(F.firewallVm)['0']!
    const uuid = sim.record('VIF', vif).uuid as string
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the binding on host1', () => bound(sim.host('host1').netns))
    const before = (await plugin.test({})) as { ok: boolean; text: string }
    assert.match(
      before.text,
      new RegExp(
        `WARNING: VIF 0 of the firewall VM: TX checksum offload is not turned off .*next plug.*Fix: xe vif-param-set uuid=${uuid} other-config:ethtool-tx="off"`,
      ),
    )
    assert.equal(
      (sim.record('VIF', vif).other_config as Record<string, string>)['ethtool-tx'],
      undefined,
      'nothing set without the opt-in',
    )

    await plugin.configure({ bindings: [binding], fixVifChecksum: true })
    await waitFor(
      'ethtool-tx=off on the VIF',
      () => (sim.record('VIF', vif).other_config as Record<string, string>)['ethtool-tx'] === 'off',
    )
    const after = (await plugin.test({})) as { ok: boolean; text: string }
    assert.doesNotMatch(after.text, /TX checksum offload/)
  })

  it('tests a pool against its own configuration when a host wrote it, and says which one is in effect', async () => {
    h = await startHarness()
    const { sim, xo, plugin, binding } = h
    await sim.startVm(F.firewallVm, 'host1')
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    const host1 = sim.host('host1').netns
    await waitFor('the binding on host1', () => bound(host1))
    // An admin reconfigures the pool on a host, with a second address: XO follows the pool.
    const second = '10.77.0.12/24'
    const document = { version: 1, bindings: [{ ...binding, addresses: [...binding.addresses, second] }] }
    const xapi = xo.getAllXapis()['firewall-pool']!
    const host2 = sim.host('host2').ref
    await xapi.call('host.call_plugin', host2, 'vif-ip-binder', 'configure', { bindings: JSON.stringify(document) })
    await waitFor('host1 holds the second address', async () =>
      (await addresses(host1))[F.privateBridge]?.includes(second),
    )
    await plugin.instance.whenIdle()
    const report = (await plugin.test({})) as { ok: boolean; text: string }
    assert.equal(report.ok, true, report.text)
    assert.match(
      report.text,
      /configuration in effect: the pool's own, written on host "host2" at [^,]+, not XO's settings \(saving XO's settings replaces it\)/,
    )
    assert.match(report.text, /in sync: addresses 10\.77\.0\.2\/24, 10\.77\.0\.12\/24/)
  })

  it('leaves the binding in place when unloaded', async () => {
    h = await startHarness()
    const { sim, plugin, binding } = h
    const host1 = sim.host('host1').netns
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the binding on host1', () => bound(host1))
    const kernel = await addresses(host1)
    await plugin.unload()
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.deepEqual(await addresses(host1), kernel)
    assert.equal(await defaultRoute(host1), BOUND_DEFAULT)
    assert.equal(await pings(host1, F.firewallPrivateAddress), true)
  })
})
