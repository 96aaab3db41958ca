// A change reverted unconfirmed stays held back from the pool's configuration until its own
// arguments are applied explicitly: recovering by hand with other arguments must not let the
// next VIF plug bring the reverted change back without a window. The revert's alert ends
// once the host no longer holds the bridge. Asserted on the host's kernel state, state file
// and xapi messages; waits are bounded waits for observed state.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { FIREWALL_POOL as F } from '../xapi-sim/scenarios/firewall-pool.ts'
import type { Simulator } from '../xapi-sim/simulator.ts'
import { rpc } from '../xapi-sim/test-helpers.ts'
import { waitFor } from './helpers.ts'
import { callOnHost, firewallDocument, onPrivateBridge, startStandalonePool } from './standalone-hosts.ts'

let sim: Simulator
let session: string
const call = (fn: string, args: Record<string, string> = {}) => callOnHost(sim, session, fn, args)
const onBridge = () => onPrivateBridge(sim)
before(async () => {
  ;({ sim, session } = await startStandalonePool())
})
after(() => sim?.stop())

const heldBack = () =>
  (
    JSON.parse(readFileSync(join(sim.host('host1').root, 'var/lib/vif-ip-binder/state.json'), 'utf8')) as {
      heldBack?: Record<string, { reverted: string }>
    }
  ).heldBack?.[F.privateBridge]

const WORKING = `${F.hostAddresses[0]}/24`
const REVERTED = '10.77.0.9/24'

test('after a revert, an explicit apply of other arguments keeps the hold: the next plug does not bring the change back', async () => {
  await call('configure', { bindings: firewallDocument(F.hostAddresses[0]) })
  await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, sim.host('host1').ref, false, false)
  await waitFor('host1 bound by the hook', async () => (await onBridge()).includes(WORKING), 30_000)
  await call('configure', { bindings: firewallDocument(REVERTED.split('/')[0]!), confirm: '3' })
  await waitFor('the revert', async () => (await call('status')).lastRevert, 60_000)
  assert.deepEqual(await onBridge(), [WORKING])

  // The admin recovers by hand with the previous arguments; the document still holds the reverted ones.
  await call('apply', { bridge: F.privateBridge, addresses: WORKING, gateway: F.firewallPrivateAddress })
  const vif = sim.vifs(F.firewallVm)['0']!
  await rpc(sim, 'VIF.unplug', session, vif)
  await waitFor('the bridge released', async () => !(await onBridge()).includes(WORKING), 30_000)
  await rpc(sim, 'VIF.plug', session, vif)
  await waitFor('the plug bound again', async () => (await onBridge()).length > 0, 30_000)
  assert.deepEqual(await onBridge(), [WORKING], 'the hook applied the arguments applied by hand, not the reverted ones')
  await call('reconcile')
  assert.deepEqual(await onBridge(), [WORKING], 'and so does reconcile')
  assert.ok(heldBack(), 'still held back')
})

test('an explicit apply of the reverted arguments themselves lifts the hold', async () => {
  const reverted = Object.fromEntries(JSON.parse(heldBack()!.reverted) as [string, string][])
  assert.equal(reverted.addresses, REVERTED)
  await call('apply', reverted)
  assert.equal(heldBack(), undefined, 'lifted')
  assert.deepEqual(await onBridge(), [REVERTED])
  await call('reconcile')
  assert.deepEqual(await onBridge(), [REVERTED], 'the configuration applies again')
})

const revertAlerts = async () =>
  Object.values(
    (await rpc(sim, 'message.get_all_records', session)) as Record<string, { name: string; obj_uuid: string }>,
  ).filter(m => m.name === 'VIF_IP_BINDER_REVERTED')

test("a release of the bridge on the host that reverted ends the revert's alert", async () => {
  const first = (await call('status')).lastRevert.revertedAt
  await call('apply', {
    bridge: F.privateBridge,
    addresses: '10.77.0.11/24',
    gateway: F.firewallPrivateAddress,
    confirm: '3',
  })
  await waitFor('the revert', async () => (await call('status')).lastRevert.revertedAt !== first, 60_000)
  assert.deepEqual(
    (await revertAlerts()).map(m => m.obj_uuid),
    [sim.host('host1').uuid],
    'the alert is raised on host1',
  )
  await rpc(sim, 'VM.clean_shutdown', session, sim.vm(F.firewallVm).ref)
  await waitFor('the bridge released', async () => (await onBridge()).length === 0, 30_000)
  await waitFor('the alert destroyed', async () => (await revertAlerts()).length === 0, 30_000)
})
