// configure confirm=N with no Xen Orchestra: the document is written and this host applies
// it at once with a confirmation window; unconfirmed, the host goes back to its previous
// binding, and its own reconcile does not re-apply what the document still holds.
// Asserted on the host's kernel state; waits are bounded waits for observed state.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { FIREWALL_POOL as F } from '../xapi-sim/scenarios/firewall-pool.ts'
import type { Simulator } from '../xapi-sim/simulator.ts'
import { rpc } from '../xapi-sim/test-helpers.ts'
import { waitFor } from './helpers.ts'
import { callOnHost, firewallDocument, onPrivateBridge, startStandalonePool } from './standalone-hosts.ts'

let sim: Simulator
let session: string
before(async () => {
  ;({ sim, session } = await startStandalonePool())
})
after(() => sim?.stop())

const call = (fn: string, args: Record<string, string> = {}) => callOnHost(sim, session, fn, args)
const documentFor = firewallDocument
const onBridge = () => onPrivateBridge(sim)

test('configure confirm=N applies this host at once and reverts unless confirmed; reconcile keeps the reverted change out', async () => {
  await call('configure', { bindings: documentFor(F.hostAddresses[0]) })
  await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, sim.host('host1').ref, false, false)
  await waitFor('host1 bound by the hook', async () => (await onBridge()).includes(`${F.hostAddresses[0]}/24`), 30_000)

  const changed = await call('configure', { bindings: documentFor('10.77.0.9'), confirm: '5' })
  assert.equal(changed.confirmation.seconds, 5)
  assert.deepEqual(await onBridge(), ['10.77.0.9/24'], 'applied at once, the old address removed')
  const pending = await call('status')
  assert.equal(pending.confirmation?.token, changed.confirmation.token)

  const reverted = await waitFor('the revert', async () => (await call('status')).lastRevert, 60_000)
  assert.deepEqual(reverted.bridges, [F.privateBridge])
  assert.deepEqual(await onBridge(), [`${F.hostAddresses[0]}/24`])
  const messages = Object.values(
    (await rpc(sim, 'message.get_all_records', session)) as Record<string, { name: string; obj_uuid: string }>,
  ).filter(m => m.name === 'VIF_IP_BINDER_REVERTED')
  assert.deepEqual(
    messages.map(m => m.obj_uuid),
    [sim.host('host1').uuid],
    'one alert, on the host that reverted',
  )

  const reconciled = await call('reconcile')
  assert.equal(reconciled.applied.length, 1)
  assert.deepEqual(await onBridge(), [`${F.hostAddresses[0]}/24`], 'the document still holds it; the host keeps it out')
})

test('a corrected change, confirmed, ends what the revert reported: its alert and lastRevert go', async () => {
  assert.ok((await call('status')).lastRevert, 'the previous test left a revert')
  const corrected = await call('configure', { bindings: documentFor('10.77.0.12'), confirm: '60' })
  await call('confirm', { token: corrected.confirmation.token })
  assert.deepEqual(await onBridge(), ['10.77.0.12/24'])
  const status = await call('status')
  assert.equal(status.confirmation, undefined)
  assert.equal(status.lastRevert, undefined, 'no revert left to report')
  const messages = Object.values(
    (await rpc(sim, 'message.get_all_records', session)) as Record<string, { name: string }>,
  ).filter(m => m.name === 'VIF_IP_BINDER_REVERTED')
  assert.deepEqual(messages, [], 'the alert is destroyed')
})

test('configure confirm=N that drops a binding releases it in the window: unconfirmed, the bridge comes back and reconcile keeps it', async () => {
  assert.deepEqual(await onBridge(), ['10.77.0.12/24'], 'the previous test left this binding')
  const dropped = await call('configure', { bindings: JSON.stringify({ version: 1, bindings: [] }), confirm: '5' })
  assert.equal(dropped.confirmation?.seconds, 5, 'the release has a window')
  assert.deepEqual(
    dropped.reconcile.released.map((r: { bridge: string }) => r.bridge),
    [F.privateBridge],
  )
  assert.deepEqual(await onBridge(), [], 'released at once')
  assert.equal((await call('status')).confirmation?.token, dropped.confirmation.token)

  const reverted = await waitFor('the revert', async () => (await call('status')).lastRevert, 60_000)
  assert.equal(reverted.token, dropped.confirmation.token)
  assert.deepEqual(await onBridge(), ['10.77.0.12/24'], 'the release was reverted')
  const reconciled = await call('reconcile')
  assert.equal(reconciled.released[0]?.heldBack !== undefined, true, 'reconcile does not release it again')
  assert.deepEqual(await onBridge(), ['10.77.0.12/24'])
})
