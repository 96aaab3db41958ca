// Pool-wide holds (pool.other_config:vif-ip-binder-holds): which requests a hold recorded on
// one host matches on another, what a new configuration lifts, and what a host keeps instead.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { applyArgsFor, parseBinding } from '../../shared/binding.ts'
import { canonicalArgs } from '../../shared/plugin-args.ts'
import {
  POOL_HOLDS_KEY,
  bindingHoldText,
  encodePoolHolds,
  holdOn,
  hostIndependentText,
  noPoolHolds,
  readPoolHolds,
  staleHolds,
  withHold,
  withoutHolds,
} from '../../shared/pool-holds.ts'
import { poolHeldBackFor } from '../../xapi-plugin/engine/held-back.ts'
import { emptyRecord, emptyState } from '../../xapi-plugin/engine/state.ts'

const NETWORK = '4f3a2b1c-0d9e-4f8a-9b7c-6d5e4f3a2b1c'
const binding = (address: string) =>
  parseBinding(
    {
      vm: 'firewall',
      network: NETWORK,
      addresses: [`${address}/24`],
      gateways: ['10.77.0.1'],
      managementAddress: address,
    },
    0,
  )
const REVERTED = binding('10.77.0.9')
const HOLD = { arguments: bindingHoldText(REVERTED, 10), host: 'host1-uuid', at: '2026-12-02T07:00:00.000Z' }
const holds = withHold(noPoolHolds(), NETWORK, HOLD)

test('a hold recorded from one host matches the same binding on a host with other bridge names', () => {
  const onHost1 = applyArgsFor(REVERTED, 'xapi0', 'xenbr0', 10)
  const onHost2 = applyArgsFor(REVERTED, 'xapi0', 'xenbr1', 10)
  assert.notEqual(canonicalArgs(onHost1), canonicalArgs(onHost2))
  assert.equal(hostIndependentText(onHost1), hostIndependentText(onHost2))
  assert.equal(HOLD.arguments, hostIndependentText(onHost2))
  assert.equal(holdOn(holds, NETWORK, REVERTED, 10), HOLD)
})

test('a binding that asks for other arguments, or another gateway check, is not held', () => {
  assert.equal(holdOn(holds, NETWORK, binding('10.77.0.2'), 10), undefined)
  assert.equal(holdOn(holds, NETWORK, REVERTED, 20), undefined)
  assert.equal(holdOn(holds, 'another-network', REVERTED, 10), undefined)
})

test('a configuration that no longer asks for the held arguments makes the hold stale', () => {
  assert.deepEqual(staleHolds(holds, [{ network: NETWORK, binding: REVERTED }], 10), [])
  assert.deepEqual(staleHolds(holds, [{ network: NETWORK, binding: binding('10.77.0.2') }], 10), [NETWORK])
  assert.deepEqual(staleHolds(holds, [], 10), [NETWORK], 'the binding is gone')
  assert.deepEqual(withoutHolds(holds, [NETWORK]).networks, {})
})

test('the key round-trips; a missing, unknown-version or malformed key holds nothing', () => {
  assert.deepEqual(readPoolHolds({ [POOL_HOLDS_KEY]: encodePoolHolds(holds) }), holds)
  assert.deepEqual(readPoolHolds({}), noPoolHolds())
  assert.deepEqual(readPoolHolds({ [POOL_HOLDS_KEY]: '{"version":2,"networks":{}}' }), noPoolHolds())
  assert.deepEqual(readPoolHolds({ [POOL_HOLDS_KEY]: 'not json' }), noPoolHolds())
  const mixed = JSON.stringify({ version: 1, networks: { [NETWORK]: HOLD, other: { arguments: 1 } } })
  assert.deepEqual(readPoolHolds({ [POOL_HOLDS_KEY]: mixed }), holds, 'a malformed entry is dropped, not the others')
})

test('a host held pool-wide keeps what its bridge holds, binds nothing on a bridge it does not hold, and re-applies what it holds already', () => {
  const asked = applyArgsFor(REVERTED, 'xapi0', 'xenbr0', 10)
  const previous = applyArgsFor(binding('10.77.0.2'), 'xapi0', 'xenbr0', 10)
  const state = emptyState()
  assert.equal(poolHeldBackFor(state, 'xapi0', asked), null, 'nothing bound')
  state.bridges.xapi0 = { ...emptyRecord('xapi0'), desired: previous }
  assert.deepEqual(poolHeldBackFor(state, 'xapi0', asked), previous, 'its previous arguments')
  state.bridges.xapi0.desired = asked
  assert.equal(poolHeldBackFor(state, 'xapi0', asked), undefined, 'it holds them already: nothing changes')
})
