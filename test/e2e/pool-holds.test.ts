// A change reverted unconfirmed on one host is held back on every host of the pool: the
// firewall VM that starts next on another host must not have that host's hook apply, with no
// window, what cut the first one off. Asserted on the hosts' kernel state, pings, the pool's
// other_config and xapi messages; waits are bounded waits for observed state.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { POOL_HOLDS_KEY, type PoolHolds, readPoolHolds } from '../../shared/pool-holds.ts'
import { FIREWALL_POOL as F } from '../xapi-sim/scenarios/firewall-pool.ts'
import type { Simulator } from '../xapi-sim/simulator.ts'
import { rpc } from '../xapi-sim/test-helpers.ts'
import { pings, waitFor } from './helpers.ts'
import { callOnHost, firewallDocument, hostLog, onPrivateBridge, startStandalonePool } from './standalone-hosts.ts'

let sim: Simulator
let session: string
const call = (fn: string, args: Record<string, string> = {}, host = 'host1') => callOnHost(sim, session, fn, args, host)
before(async () => {
  ;({ sim, session } = await startStandalonePool())
})
after(() => sim?.stop())

const WORKING = `${F.hostAddresses[0]}/24`
const REVERTED = '10.77.0.9'

const privateNetwork = () => sim.record('network', F.privateNetwork).uuid as string
const otherConfig = async () =>
  (await rpc(sim, 'pool.get_other_config', session, sim.poolRef)) as Record<string, string>
const poolHolds = async (): Promise<PoolHolds> => readPoolHolds(await otherConfig())
const heldAlerts = async (host: string) =>
  Object.values(
    (await rpc(sim, 'message.get_all_records', session)) as Record<
      string,
      { name: string; obj_uuid: string; body: string }
    >,
  ).filter(m => m.name === 'VIF_IP_BINDER_HELD_BACK' && m.obj_uuid === sim.host(host).uuid)
const hookIndex = (host: string) =>
  JSON.parse(readFileSync(join(sim.host(host).root, 'var/lib/vif-ip-binder/hook-index.json'), 'utf8')) as {
    holds?: Record<string, { host: string }>
  }

test('a change reverted on host1 is not applied by host2 when the firewall starts there', async () => {
  await call('configure', { bindings: firewallDocument(F.hostAddresses[0]) })
  await sim.startVm(F.firewallVm, 'host1')
  await waitFor('host1 bound by the hook', async () => (await onPrivateBridge(sim)).includes(WORKING), 30_000)

  await call('configure', { bindings: firewallDocument(REVERTED), confirm: '3' })
  // host2 reads the new document at once, as after Xen Orchestra's refresh-index: its index asks for it.
  await call('refresh-index', {}, 'host2')
  await waitFor('the revert on host1', async () => (await call('status')).lastRevert, 60_000)
  // host1's release waits for the host lock, which its revert holds until the hold is recorded.
  await sim.shutdownVm(F.firewallVm)
  await waitFor('host1 released', async () => (await onPrivateBridge(sim)).length === 0, 30_000)
  assert.ok(hookIndex('host2').holds?.[F.privateBridge], 'host1 had host2 rewrite its hook index: the hold is in it')
  await sim.startVm(F.firewallVm, 'host2')
  await waitFor(
    'host2 bound, or told why not',
    async () => (await heldAlerts('host2')).length || (await onPrivateBridge(sim, 'host2')).length,
    60_000,
  )
  assert.deepEqual(await onPrivateBridge(sim, 'host2'), [], 'host2 bound nothing: not the reverted address')
  const [alert] = await heldAlerts('host2')
  assert.match(alert!.body, new RegExp(`reverted unconfirmed on host ${sim.host('host1').uuid}`))
  assert.match(hostLog(sim, 'host2'), /held back on every host of the pool/, "host2's log says why")

  const hold = (await poolHolds()).networks[privateNetwork()]
  assert.equal(hold?.host, sim.host('host1').uuid, 'held pool-wide, naming the host that reverted')

  const reconciled = await call('reconcile', {}, 'host2')
  assert.deepEqual(
    reconciled.applied.map((a: { changes: number }) => a.changes),
    [0],
  )
  assert.deepEqual(await onPrivateBridge(sim, 'host2'), [], 'nor does reconcile')
})

test('a configuration that no longer asks for the reverted arguments lifts the hold on every host', async () => {
  await call('configure', { bindings: firewallDocument(F.hostAddresses[1]) }, 'host2')
  assert.equal((await otherConfig())[POOL_HOLDS_KEY] !== undefined, true, 'the key stays, empty')
  assert.deepEqual((await poolHolds()).networks, {}, 'lifted')
  await call('reconcile', {}, 'host2')
  assert.deepEqual(await onPrivateBridge(sim, 'host2'), [`${F.hostAddresses[1]}/24`])
  assert.ok(await pings(sim.host('host2').netns, F.firewallPrivateAddress), 'host2 reaches the firewall')
  assert.deepEqual(await heldAlerts('host2'), [], 'the alert is gone')
})

test('a confirmed change to the held arguments lifts the hold pool-wide', async () => {
  await call('configure', { bindings: firewallDocument(REVERTED), confirm: '3' }, 'host2')
  const hold = await waitFor('the hold, pool-wide', async () => (await poolHolds()).networks[privateNetwork()], 60_000)
  assert.equal(hold.host, sim.host('host2').uuid, 'host2 reverted it this time')
  assert.deepEqual(await onPrivateBridge(sim, 'host2'), [`${F.hostAddresses[1]}/24`], 'host2 back as before')

  // The reverted arguments themselves, as host2 recorded them.
  const state = JSON.parse(readFileSync(join(sim.host('host2').root, 'var/lib/vif-ip-binder/state.json'), 'utf8'))
  const args = Object.fromEntries(JSON.parse(state.heldBack[F.privateBridge].reverted) as [string, string][])
  assert.equal(args.addresses, `${REVERTED}/24`)
  const { confirmation } = await call('apply', { ...args, confirm: '60' }, 'host2')
  await call('confirm', { token: confirmation.token }, 'host2')
  assert.deepEqual((await poolHolds()).networks, {}, 'lifted on every host')
  assert.deepEqual(await onPrivateBridge(sim, 'host2'), [`${REVERTED}/24`])
})

test('a revert whose hold xapi could not take then is held pool-wide by the next reconcile', async () => {
  await call('configure', { bindings: firewallDocument('10.77.0.12'), confirm: '600' }, 'host2')
  assert.deepEqual(await onPrivateBridge(sim, 'host2'), ['10.77.0.12/24'], 'in its window')
  const fault = sim.addConnectionFault({ match: { method: 'pool.add_to_other_config', via: 'unix' }, action: 'drop' })
  try {
    // A release in the window reverts it at once (as the VIF's unplug would).
    await call('release', { bridge: F.privateBridge }, 'host2')
  } finally {
    sim.removeFault(fault)
  }
  const state = () =>
    JSON.parse(readFileSync(join(sim.host('host2').root, 'var/lib/vif-ip-binder/state.json'), 'utf8')) as {
      lastRevert?: { by: string }
      poolHoldsPending?: { args: { addresses: string } }[]
    }
  assert.equal(state().lastRevert?.by, 'release')
  assert.deepEqual(
    state().poolHoldsPending?.map(p => p.args.addresses),
    ['10.77.0.12/24'],
    'kept to record',
  )
  assert.deepEqual((await poolHolds()).networks, {}, 'not recorded yet')
  await call('reconcile', {}, 'host2')
  assert.equal((await poolHolds()).networks[privateNetwork()]?.host, sim.host('host2').uuid, 'recorded')
  assert.equal(state().poolHoldsPending, undefined)
  assert.ok(!(await onPrivateBridge(sim, 'host2')).includes('10.77.0.12/24'), 'nor applied again')
})
