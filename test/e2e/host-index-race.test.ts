// The hook's worker reads the pool document, works (binds, asks a gateway), and writes the
// hook index from what it read. Meanwhile Xen Orchestra may write a newer document and have
// the host index it (`refresh-index`), or call `apply`, which removes the index: the worker's
// index, from the older document, must not replace the newer one nor come back after the
// removal, or the next plug of a newly bound VIF is skipped until the index expires. Each
// race is made certain, not likely: the simulated xapi holds both workers' first call after
// their read (host.get_PIFs) until the test has done its part. Asserted on the index and on
// the host's kernel after the next plug.

import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, test } from 'node:test'
import { POOL_CONFIG_VERSION, encodePoolConfig } from '../../shared/binding.ts'
import { hookIndexPath, readHookIndex } from '../../xapi-plugin/engine/hook-index.ts'
import { FIREWALL_POOL as F } from '../xapi-sim/scenarios/firewall-pool.ts'
import type { Simulator } from '../xapi-sim/simulator.ts'
import { rpc } from '../xapi-sim/test-helpers.ts'
import { replacePoolDocument, writePoolBindings } from './autonomous-pool.ts'
import { defaultRoute, waitFor } from './helpers.ts'
import { callOnHost, onPrivateBridge, startStandalonePool } from './standalone-hosts.ts'

const NO_BINDING = encodePoolConfig({
  version: POOL_CONFIG_VERSION,
  gatewayCheckSeconds: 10,
  rescue: false,
  bindings: [],
})
const stateDir = (sim: Simulator) => `${sim.host('host1').root}/var/lib/vif-ip-binder`

/**
 * A pool whose document binds nothing; the firewall started on host1, so each of its two VIFs
 * has a hook worker, held by xapi after it read that document; `meanwhile` runs; then the
 * workers go on and the test waits until both have logged out (their index written or not).
 */
async function workersRacing(meanwhile: (sim: Simulator, session: string) => Promise<void>) {
  const { sim, session } = await startStandalonePool()
  await replacePoolDocument(sim, session, NO_BINDING)
  sim.addConnectionFault({ match: { method: 'host.get_PIFs', via: 'unix' }, action: 'hold', times: 2 })
  let logouts = 0
  sim.api.observers.add(method => {
    if (method === 'session.logout') logouts++
  })
  await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, sim.host('host1').ref, false, false)
  await waitFor('both workers held after their read', () => sim.heldCalls === 2)
  await meanwhile(sim, session)
  const before = logouts
  sim.releaseHeldCalls()
  await waitFor('both workers done', () => logouts >= before + 2)
  return { sim, session }
}

/** The firewall's private VIF unplugged and plugged again: the host has it bound on its own. */
async function replugAndWaitBound(sim: Simulator): Promise<void> {
  const vif = sim.vifs(F.firewallVm)['0']!
  await sim.unplugVif(vif)
  await sim.plugVif(vif)
  await waitFor('the VIF bound again', async () => (await onPrivateBridge(sim)).includes(`${F.hostAddresses[0]}/24`))
  await waitFor(
    'the default route through the firewall',
    async () =>
      (await defaultRoute(sim.host('host1').netns)) === `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`,
  )
}

describe('a hook worker that read the pool document before it changed', () => {
  test('does not replace the index refresh-index wrote from the newer document', async () => {
    const { sim } = await workersRacing(async (sim, session) => {
      await writePoolBindings(sim, session, { srs: false })
      const refreshed = await callOnHost(sim, session, 'refresh-index')
      assert.deepEqual(refreshed.vms, [sim.vm(F.firewallVm).uuid])
      assert.equal(refreshed.superseded, undefined)
    })
    try {
      const vif = sim.record('VIF', sim.vifs(F.firewallVm)['0']!).uuid as string
      const index = readHookIndex(stateDir(sim))
      assert.equal(index?.vms[sim.vm(F.firewallVm).uuid]?.vifs[vif], F.privateBridge, 'the newer index stays')
      assert.deepEqual(await onPrivateBridge(sim), [], 'nothing bound yet: the binding was only indexed')
      await replugAndWaitBound(sim)
    } finally {
      await sim.stop()
    }
  })

  test('does not bring back the index an explicit apply removed', async () => {
    const { sim } = await workersRacing(async (sim, session) => {
      await writePoolBindings(sim, session, { srs: false })
      await callOnHost(sim, session, 'apply', { bridge: F.privateBridge, addresses: `${F.hostAddresses[0]}/24` })
    })
    try {
      assert.equal(existsSync(hookIndexPath(stateDir(sim))), false, 'no index: the next hook asks xapi')
      await replugAndWaitBound(sim)
    } finally {
      await sim.stop()
    }
  })
})
