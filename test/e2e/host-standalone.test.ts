// The host stands alone: the pool is configured with `configure` through xapi's
// host.call_plugin (as `xe host-call-plugin … args:bindings:file=F` sends it), with no Xen
// Orchestra anywhere, and the hosts act on it. Bad documents change nothing; rewrites never
// leave readers without one; a paused host is left alone. Asserted on xapi records, the
// hosts' kernel state and pings.

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { POOL_CONFIG_KEY } from '../../shared/binding.ts'
import { PAUSE_KEY } from '../../shared/pause.ts'
import { readPoolDocument } from '../../shared/pool-document.ts'
import { runByHand } from '../helpers/host-plugin.ts'
import { FIREWALL_POOL as F } from '../xapi-sim/scenarios/firewall-pool.ts'
import type { Simulator } from '../xapi-sim/simulator.ts'
import { rpc } from '../xapi-sim/test-helpers.ts'
import factory from '../../xo-plugin/index.ts'
import type { VifIpBinderPlugin } from '../../xo-plugin/plugin.ts'
import { PluginHost, type PluginFactory, XoFacade } from '../xo-facade/facade.ts'
import { addresses, defaultRoute, pings, waitFor } from './helpers.ts'
import { hostLog, startStandalonePool } from './standalone-hosts.ts'

const BOUND_ROUTE = `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`

type Reply = { ok: true; value: any } | { ok: false; code: string; params: string[] } // eslint-disable-line @typescript-eslint/no-explicit-any

function pluginCall(
  sim: Simulator,
  session: string,
  host: string,
  fn: string,
  args: Record<string, string> = {},
): Promise<Reply> {
  return rpc(sim, 'host.call_plugin', session, sim.host(host).ref, 'vif-ip-binder', fn, args).then(
    value => ({ ok: true as const, value: JSON.parse(value as string) }),
    error => ({
      ok: false as const,
      code: (error as { code: string }).code,
      params: (error as { params: string[] }).params,
    }),
  )
}

/** The document an admin writes by hand: names where they know names. */
function document(overrides: Record<string, unknown> = {}, binding: Record<string, unknown> = {}) {
  return {
    version: 1,
    gatewayCheckSeconds: 10,
    bindings: [
      {
        vm: F.firewallVm,
        network: F.privateNetwork,
        addresses: [`${F.hostAddresses[0]}/24`],
        gateways: [F.firewallPrivateAddress],
        managementAddress: F.hostAddresses[0],
        ...binding,
      },
    ],
    ...overrides,
  }
}

async function poolOtherConfig(sim: Simulator, session: string): Promise<Record<string, string>> {
  const pool = (await rpc(sim, 'pool.get_all', session))[0] as string
  return rpc(sim, 'pool.get_other_config', session, pool)
}

describe('configure with no Xen Orchestra', () => {
  let sim: Simulator
  let session: string
  before(async () => {
    ;({ sim, session } = await startStandalonePool())
  })
  after(() => sim?.stop())

  test('configure on host2 writes the pool document; the firewall starting on host1 is bound by the hook', async () => {
    const dry = await pluginCall(sim, session, 'host2', 'configure', {
      bindings: JSON.stringify(document()),
      'dry-run': 'true',
    })
    assert.ok(dry.ok, JSON.stringify(dry))
    assert.equal((await poolOtherConfig(sim, session))[POOL_CONFIG_KEY], undefined, 'a dry run writes nothing')

    const reply = await pluginCall(sim, session, 'host2', 'configure', { bindings: JSON.stringify(document()) })
    assert.ok(reply.ok, JSON.stringify(reply))
    const read = readPoolDocument(await poolOtherConfig(sim, session))
    assert.equal(read.state, 'ok')
    if (read.state !== 'ok') return
    assert.equal(read.config.bindings[0]!.vm, sim.vm(F.firewallVm).uuid, 'the VM name became its UUID')
    assert.equal(read.config.bindings[0]!.network, sim.record('network', F.privateNetwork).uuid)
    assert.deepEqual(read.writtenBy && [read.writtenBy.by, read.writtenBy.host], ['host', sim.host('host2').uuid])

    const shown = await pluginCall(sim, session, 'host1', 'show-config')
    assert.ok(shown.ok)
    assert.deepEqual(
      shown.ok && shown.value.document,
      JSON.parse(read.text),
      'show-config on another host reads the same document',
    )

    await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, sim.host('host1').ref, false, false)
    const host1 = sim.host('host1').netns
    await waitFor('host1 bound by the hook', async () => (await defaultRoute(host1)) === BOUND_ROUTE, 30_000)
    assert.deepEqual((await addresses(host1))[F.privateBridge], [`${F.hostAddresses[0]}/24`])
    assert.equal(await pings(host1, F.nfsServer), true)
  })

  test('bad documents are refused with a coded error naming the value, and the pool document is unchanged', async () => {
    const before = await poolOtherConfig(sim, session)
    const unknownUuid = '00000000-0000-4000-8000-00000000abcd'
    const cases: [Record<string, unknown>, string, string][] = [
      [document({}, { vm: 'no-such-firewall' }), 'VIF_IP_BINDER_NO_SUCH_VM', 'no-such-firewall'],
      [document({}, { vm: unknownUuid }), 'VIF_IP_BINDER_NO_SUCH_VM', unknownUuid],
      [document({}, { network: 'no-such-network' }), 'VIF_IP_BINDER_NO_SUCH_NETWORK', 'no-such-network'],
      [document({}, { network: unknownUuid }), 'VIF_IP_BINDER_NO_SUCH_NETWORK', unknownUuid],
      [document({}, { network: F.managementNetwork }), 'VIF_IP_BINDER_INVALID_ARGUMENT', F.managementNetwork],
      [document({}, { srs: [{ sr: unknownUuid }] }), 'VIF_IP_BINDER_NO_SUCH_SR', unknownUuid],
      [document({}, { srs: [{ sr: 'nfs-store' }] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'nfs-store'],
      [
        document({}, { srs: [{ sr: unknownUuid, probe: 'udp:1.2.3.4:9' }] }),
        'VIF_IP_BINDER_INVALID_ARGUMENT',
        'udp:1.2.3.4:9',
      ],
      [document({}, { addresses: ['10.77.0.2'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.77.0.2'],
      [document({}, { addresses: ['10.77.0.300/24'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.77.0.300'],
      [document({}, { addresses: ['10.77.0.2/33'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.77.0.2/33'],
      [document({}, { addresses: ['fe80::zz/64'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'fe80::zz/64'],
      [document({}, { addresses: [] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'addresses'],
      [document({}, { addresses: ['10.77.0.2/24', '10.77.0.2/24'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.77.0.2/24'],
      [
        document({}, { addresses: ['10.77.0.2/24,10.77.0.5/24'] }),
        'VIF_IP_BINDER_INVALID_ARGUMENT',
        '10.77.0.2/24,10.77.0.5/24',
      ],
      [document({}, { addresses: '10.77.0.2/24' }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'addresses'],
      [document({}, { gateways: ['10.99.0.1'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.99.0.1'],
      [document({}, { gateways: ['not-an-ip'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'not-an-ip'],
      [document({}, { gateways: ['10.77.0.2'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.77.0.2'],
      [document({}, { gateways: ['2001:db8::1'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '2001:db8::1'],
      [document({}, { gateways: ['10.77.0.1', '10.77.0.9'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.77.0.9'],
      [document({}, { routes: ['10.0.0.0/8=10.99.0.1'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.0.0.0/8=10.99.0.1'],
      [document({}, { routes: ['10.0.0.0/99'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.0.0.0/99'],
      [
        document({}, { routes: ['2001:db8::/32=10.77.0.1'] }),
        'VIF_IP_BINDER_INVALID_ARGUMENT',
        '2001:db8::/32=10.77.0.1',
      ],
      [document({}, { managementAddress: '10.77.0.999' }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '10.77.0.999'],
      [document({}, { proxyArp: 'yes' }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'yes'],
      [document({}, { forwarding: 1 }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '1'],
      [document({}, { gateway: ['10.77.0.1'] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'gateway'],
      [document({ gatewayCheckSeconds: 9999 }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '9999'],
      [document({ gatewayCheckSeconds: 'ten' }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'ten'],
      [document({ rescue: 'on' }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'on'],
      [document({ version: 7 }), 'VIF_IP_BINDER_INVALID_ARGUMENT', '7'],
      [document({ bindngs: [] }), 'VIF_IP_BINDER_INVALID_ARGUMENT', 'bindngs'],
      [{ version: 1 }, 'VIF_IP_BINDER_INVALID_ARGUMENT', 'bindings'],
    ]
    assert.ok(cases.length >= 30)
    for (const [doc, code, value] of cases) {
      const reply = await pluginCall(sim, session, 'host2', 'configure', { bindings: JSON.stringify(doc) })
      assert.equal(reply.ok ? 'ok' : reply.code, code, `${JSON.stringify(doc)}: ${JSON.stringify(reply)}`)
      assert.ok(
        !reply.ok && reply.params[0]!.includes(value),
        `the message names ${value}: ${!reply.ok && reply.params[0]}`,
      )
    }
    for (const text of ['{', '[]', '"x"']) {
      const reply = await pluginCall(sim, session, 'host1', 'configure', { bindings: text })
      assert.equal(reply.ok ? 'ok' : reply.code, 'VIF_IP_BINDER_INVALID_ARGUMENT', text)
    }
    assert.deepEqual(await poolOtherConfig(sim, session), before, 'the pool document is unchanged')
  })

  test('Xen Orchestra whose settings bind nothing here then loads, follows the same configuration and leaves it as it is', async () => {
    const before = await poolOtherConfig(sim, session)
    const xo = new XoFacade()
    const { url, user, password } = sim.describe()
    await xo.connectServer('firewall-pool', { url, user, password })
    const plugin = new PluginHost<VifIpBinderPlugin>(factory as unknown as PluginFactory, xo)
    try {
      // xo-server loads a plugin only once a configuration was saved; an admin who manages
      // this pool on its hosts saves one binding nothing (or bindings of other pools only).
      await plugin.start()
      await assert.rejects(plugin.load(), /plugin not configured/)
      await plugin.configure({ bindings: [] })
      await plugin.load()
      await plugin.instance.whenIdle()
      const poolUuid = sim.record('pool', (await rpc(sim, 'pool.get_all', session))[0]).uuid as string
      const seen = plugin.instance.poolConfiguration(poolUuid)
      assert.equal(seen?.source, 'pool')
      assert.deepEqual(
        seen?.resolved.map(r => [r.vmUuid, r.networkUuid]),
        [[sim.vm(F.firewallVm).uuid, sim.record('network', F.privateNetwork).uuid]],
      )
      assert.equal(seen?.writtenBy?.host, sim.host('host2').uuid)
      assert.deepEqual(plugin.instance.pendingKeys(), [], 'XO finds host1 bound as the document says')
      assert.deepEqual(await poolOtherConfig(sim, session), before, 'saving and loading XO wrote nothing')
      assert.equal(await defaultRoute(sim.host('host1').netns), BOUND_ROUTE, 'host1 is still bound')
    } finally {
      await plugin.unload()
      await xo.disconnectAll().catch(() => undefined)
    }
  })

  test('100 rewrites: a concurrent reader never finds the document missing, and hooks fired meanwhile never release', async () => {
    const host1 = sim.host('host1')
    const pool = (await rpc(sim, 'pool.get_all', session))[0] as string
    const vif = sim.record('VM', F.firewallVm).VIFs as string[]
    const vifUuid = sim.record('VIF', vif[0]!).uuid as string
    let writing = true
    const seen: string[] = []
    const reader = (async () => {
      while (writing) seen.push(readPoolDocument(await rpc(sim, 'pool.get_other_config', session, pool)).state)
    })()
    const hooks: Promise<unknown>[] = []
    const reconciles: Promise<Reply>[] = []
    const appliedBefore = hostLog(sim, 'host1').match(/vif-hotplug online: applied/g)?.length ?? 0
    for (let i = 0; i < 100; i++) {
      const reply = await pluginCall(sim, session, i % 2 ? 'host1' : 'host2', 'configure', {
        bindings: JSON.stringify(document({ gatewayCheckSeconds: 5 + (i % 2) })),
      })
      assert.ok(reply.ok, JSON.stringify(reply))
      if (i % 10 === 0) {
        const run = ['-action', 'online', '-vifuuid', vifUuid, '-vmuuid', sim.vm(F.firewallVm).uuid]
        hooks.push(runByHand(host1.netns, host1.root, run))
        reconciles.push(pluginCall(sim, session, 'host1', 'reconcile'))
      }
    }
    writing = false
    await reader
    await Promise.all(hooks)
    const reconciled = await Promise.all(reconciles)
    assert.ok(seen.length > 100, `${seen.length} reads`)
    assert.deepEqual([...new Set(seen)], ['ok'])
    for (const one of reconciled) assert.deepEqual(one.ok && one.value.released, [], JSON.stringify(one))
    const applied = () => hostLog(sim, 'host1').match(/vif-hotplug online: applied/g)?.length ?? 0
    await waitFor('the hook workers done', () => applied() >= appliedBefore + 10, 60_000)
    assert.equal(await defaultRoute(host1.netns), BOUND_ROUTE)
    assert.doesNotMatch(hostLog(sim, 'host1'), /released/)
  })
})

describe('pause with no Xen Orchestra', () => {
  let sim: Simulator
  let session: string
  before(async () => {
    ;({ sim, session } = await startStandalonePool())
    const reply = await pluginCall(sim, session, 'host1', 'configure', { bindings: JSON.stringify(document()) })
    assert.ok(reply.ok, JSON.stringify(reply))
  })
  after(() => sim?.stop())

  test('while paused the hook and reconcile change nothing; resume and reconcile converge', async () => {
    const host1 = sim.host('host1')
    const paused = await pluginCall(sim, session, 'host1', 'pause', { reason: 'replacing the firewall' })
    assert.ok(paused.ok && paused.value.published, JSON.stringify(paused))
    assert.match(
      String((sim.record('host', 'host1').other_config as Record<string, string>)[PAUSE_KEY]),
      /replacing the firewall/,
    )

    await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, host1.ref, false, false)
    await waitFor('the hook saw the pause', () => /paused/.test(hostLog(sim, 'host1')), 20_000)
    const reconciled = await pluginCall(sim, session, 'host1', 'reconcile')
    assert.ok(reconciled.ok && reconciled.value.paused?.reason === 'replacing the firewall', JSON.stringify(reconciled))
    assert.equal(await defaultRoute(host1.netns), 'none')
    assert.deepEqual((await addresses(host1.netns))[F.privateBridge] ?? [], [])

    const status = await pluginCall(sim, session, 'host1', 'status')
    assert.equal(status.ok && status.value.paused?.reason, 'replacing the firewall')

    const resumed = await pluginCall(sim, session, 'host1', 'resume')
    assert.ok(resumed.ok && resumed.value.wasPaused, JSON.stringify(resumed))
    assert.equal((sim.record('host', 'host1').other_config as Record<string, string>)[PAUSE_KEY], undefined)
    const converged = await pluginCall(sim, session, 'host1', 'reconcile')
    assert.ok(converged.ok && converged.value.applied.length === 1, JSON.stringify(converged))
    assert.equal(await defaultRoute(host1.netns), BOUND_ROUTE)
    assert.equal(await pings(host1.netns, F.nfsServer), true)
  })
})
