// A binding saved in Xen Orchestra reaches every host's vif-hotplug hook, not only through
// XO: the hook decides from a local index that a host rewrites on its own only now and then,
// and XO writes the pool document and applies without the host's own paths. Here each host
// starts with a fresh index that names no VM; then an admin saves a binding in XO while the
// firewall runs, XO binds host1 and is stopped; a firewall restart (on host1, then on host2)
// must be bound by the hook alone, or the host stays cut off from an XO that reaches the pool
// through it. Asserted on the hosts' kernel state.

import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { hookIndexPath, readHookIndex } from '../../xapi-plugin/engine/hook-index.ts'
import { rpc, login } from '../xapi-sim/test-helpers.ts'
import { installHostPlugin } from './standalone-hosts.ts'
import { FIREWALL_POOL as F, type Harness, addresses, defaultRoute, startHarness, waitFor } from './helpers.ts'

const ROUTE = `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`
const stateDir = (h: Harness, host: string) => `${h.sim.host(host).root}/var/lib/vif-ip-binder`

/** dom0's address on the firewall's network, its mirror on the management bridge, its default route. */
async function bound(h: Harness, host: string, address: string): Promise<boolean> {
  const ns = h.sim.host(host).netns
  const all = await addresses(ns)
  return (
    (all[F.privateBridge] ?? []).includes(`${address}/24`) &&
    (all.xenbr0 ?? []).includes(`${address}/32`) &&
    (await defaultRoute(ns)) === ROUTE
  )
}

describe('a binding saved in Xen Orchestra, then the firewall restarted with XO stopped', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ hostPlugin: false })
    const { sim, plugin, binding } = h
    await installHostPlugin(sim)
    const session = await login(sim)
    // No binding yet: the firewall's start leaves host1's hook a fresh index naming no VM;
    // reconcile does the same on host2.
    await plugin.configure({ bindings: [] })
    await plugin.load()
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor("host1's index", () => existsSync(hookIndexPath(stateDir(h, 'host1'))))
    await rpc(sim, 'host.call_plugin', session, sim.host('host2').ref, 'vif-ip-binder', 'reconcile', {})
    for (const host of ['host1', 'host2']) {
      const index = readHookIndex(stateDir(h, host))
      assert.deepEqual(index?.vms, {}, `${host}: a fresh index that names no VM`)
    }

    // The admin saves the binding; XO writes the pool document and binds host1.
    await plugin.configure({ bindings: [binding], confirmSeconds: 0 })
    await waitFor('host1 bound by XO', () => bound(h, 'host1', F.hostAddresses[0]))
    await plugin.instance.whenIdle()
    await plugin.unload()
    await h.xo.disconnectAll()
  })
  after(() => h?.close())

  test('a restart on the same host: the hook binds it again', async () => {
    const vif = h.sim.vifs(F.firewallVm)['0']!
    await h.sim.unplugVif(vif)
    assert.equal(
      (await addresses(h.sim.host('host1').netns))[F.privateBridge],
      undefined,
      'the bridge went, its address too',
    )
    await h.sim.plugVif(vif)
    await waitFor('host1 bound again by its hook', () => bound(h, 'host1', F.hostAddresses[0]))
  })

  test('a start on another host of the pool: its hook binds it', async () => {
    await h.sim.shutdownVm(F.firewallVm)
    await h.sim.startVm(F.firewallVm, 'host2')
    await waitFor('host2 bound by its hook', () => bound(h, 'host2', F.hostAddresses[0]))
    const host1 = h.sim.host('host1').netns
    await waitFor('host1 released', async () => !(await addresses(host1)).xenbr0?.includes(`${F.hostAddresses[0]}/32`))
  })
})
