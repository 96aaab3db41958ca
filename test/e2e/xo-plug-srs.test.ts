// The XO plugin re-attaches a binding's NFS SR end to end: dom0 has no network until the
// firewall VM runs and the binding is applied; then the plugin's plug-srs task (the real
// host plugin, probing the NFS server through the firewall) plugs host1's PBD, and the
// Test report says so.

import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import factory from '../../xo-plugin/index.ts'
import type { PluginFactory } from '../xo-facade/facade.ts'
import { FIREWALL_POOL as F, type Harness, defaultRoute, nfsAttached, nfsSr, startHarness, waitFor } from './helpers.ts'
import { failureMatching } from '../helpers/test-failure.ts'

/** The plugin as xo-server would load it with `[plugins.vif-ip-binder] plugSrs.timeoutSeconds` set. */
function withPlugTimeout(timeoutSeconds: number): PluginFactory {
  const base = factory as unknown as PluginFactory
  return Object.assign(
    (args: Parameters<PluginFactory>[0]) => base({ ...args, staticConfig: { plugSrs: { timeoutSeconds } } }),
    base,
  )
}

let h: Harness | undefined

afterEach(async () => {
  await h?.close()
  h = undefined
})

describe('XO plugin: SRs end to end', { timeout: 200_000 }, () => {
  it('plugs an SR added to a binding whose host already holds it, without waiting for the next VIF plug', async () => {
    h = await startHarness()
    const { sim, plugin, binding } = h
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    const bound = `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`
    await waitFor('host1 bound', async () => (await defaultRoute(sim.host('host1').netns)) === bound)
    await plugin.instance.whenIdle()
    assert.equal(nfsAttached(sim, 'host1'), false)
    await plugin.configure({ bindings: [{ ...binding, srs: [nfsSr(sim)] }] })
    await waitFor('the NFS PBD attached on host1', () => nfsAttached(sim, 'host1'), 150_000)
    await plugin.instance.whenIdle()
    assert.match(((await plugin.test({})) as { text: string }).text, /SR "NFS storage" on host "host1": plugged/)
  })

  it('plugs the NFS SR on the host that got the binding, once the firewall runs', async () => {
    h = await startHarness()
    const { sim, xo, plugin, binding } = h
    assert.equal(nfsAttached(sim, 'host1'), false, 'the scenario starts with the PBD unplugged')
    await plugin.configure({ bindings: [{ ...binding, srs: [nfsSr(sim)] }] })
    await plugin.load()
    await plugin.instance.whenIdle()
    const before = (await plugin.test({})) as { text: string }
    assert.match(before.text, /SR "NFS storage": not tried yet/)

    await sim.startVm(F.firewallVm, 'host1')
    // plug-srs waits for the NFS server itself, up to its 120 s timeout.
    await waitFor('the NFS PBD attached on host1', () => nfsAttached(sim, 'host1'), 150_000)
    await plugin.instance.whenIdle()
    assert.equal(nfsAttached(sim, 'host2'), false, 'host2 runs no firewall: its PBD is left alone')
    const pbd = sim.record('PBD', sim.pbds(F.srName).host1!)
    const seenByXo = xo.getAllXapis()['firewall-pool']!.objects.all[pbd.uuid as string] as unknown as {
      currently_attached: boolean
    }
    assert.equal(seenByXo.currently_attached, true, "XO's connection sees the PBD attached")
    assert.equal(sim.timeline.entries({ kind: 'pbd.plugged' }).length, 1)
    const plugCalls = sim.timeline
      .entries({ kind: 'plugin.finished', host: sim.host('host1').uuid })
      .filter(e => e.detail?.fn === 'plug-srs')
    assert.deepEqual(
      plugCalls.map(e => e.detail?.ok),
      [true],
      'one plug-srs, on host1',
    )

    const report = (await plugin.test({})) as { ok: boolean; text: string }
    assert.match(
      report.text,
      /SR "NFS storage" on host "host1": plugged \(probe tcp:10\.78\.0\.10:2049 answered after \d+ attempts?\)/,
    )
    assert.equal(report.ok, true, report.text)
  })

  it('reports an SR whose server does not answer, with the probe target, and leaves the PBD unplugged', async () => {
    h = await startHarness({}, withPlugTimeout(2))
    const { sim, plugin, binding } = h
    // Nobody has this address: the probe never answers, whatever the firewall does.
    await plugin.configure({ bindings: [{ ...binding, srs: [{ ...nfsSr(sim), probe: 'icmp:10.78.0.99' }] }] })
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor(
      'a plug-srs on host1',
      () =>
        sim.timeline
          .entries({ kind: 'plugin.finished', host: sim.host('host1').uuid })
          .some(e => e.detail?.fn === 'plug-srs'),
      30_000,
    )
    await plugin.instance.whenIdle()
    assert.equal(nfsAttached(sim, 'host1'), false)
    await assert.rejects(
      plugin.test({}),
      failureMatching(
        /PROBLEM: SR "NFS storage" on host "host1": server unreachable: probe icmp:10\.78\.0\.99 got no answer in \d+ attempts/,
      ),
    )
  })
})
