// How changes join a pending confirmation: one token, the later deadline, and the state
// before the first unconfirmed change kept for the revert.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BridgeRecord, Step } from '../../shared/results.ts'
import { canonicalArgs } from '../../shared/plugin-args.ts'
import { heldBackFor, joinConfirmation } from '../../xapi-plugin/engine/confirmation.ts'
import { type State, emptyRecord, emptyState } from '../../xapi-plugin/engine/state.ts'

const T0 = Date.parse('2026-12-02T00:00:00.000Z')
const add = (cidr: string): Step => ({ action: 'add-address', dev: 'xapi1', cidr })
const recordOf = (address: string): BridgeRecord => ({
  ...emptyRecord('xapi1'),
  desired: { bridge: 'xapi1', addresses: address },
})

test('nothing pending and no window: nothing is armed', () => {
  const state = emptyState()
  assert.equal(joinConfirmation(state, 'xapi1', undefined, [add('192.0.2.2/24')], { seconds: 0 }, T0), undefined)
  assert.equal(state.confirmation, undefined)
})

test('a second change joins: same token, the later deadline, the first state before kept', () => {
  const state: State = emptyState()
  const first = joinConfirmation(state, 'xapi1', recordOf('192.0.2.2/24'), [add('192.0.2.3/24')], { seconds: 60, token: 'first' }, T0)!
  assert.equal(first.deadline, '2026-12-02T00:01:00.000Z')
  const shorter = joinConfirmation(state, 'xapi1', recordOf('192.0.2.3/24'), [add('192.0.2.4/24')], { seconds: 10, token: 'first' }, T0 + 5000)!
  assert.deepEqual([shorter.token, shorter.deadline, shorter.seconds], [first.token, first.deadline, 10])
  const longer = joinConfirmation(state, 'xapi2', undefined, [], { seconds: 120, token: 'first' }, T0 + 5000)!
  assert.deepEqual([longer.token, longer.deadline], [first.token, '2026-12-02T00:02:05.000Z'])
  const without = joinConfirmation(state, 'xapi1', undefined, [add('192.0.2.5/24')], { seconds: 0 }, T0 + 6000)!
  assert.equal(without.deadline, longer.deadline, 'a change without a window keeps the deadline')
  assert.deepEqual(state.confirmation!.before, { xapi1: recordOf('192.0.2.2/24'), xapi2: null })
  assert.deepEqual(
    state.confirmation!.steps.map(s => (s as { cidr: string }).cidr),
    ['192.0.2.3/24', '192.0.2.4/24', '192.0.2.5/24'],
  )
})

test('held back: the reverted arguments, in any key order, give the previous ones', () => {
  const state: State = {
    ...emptyState(),
    heldBack: { xapi1: { reverted: canonicalArgs({ bridge: 'xapi1', addresses: '10.0.0.9/24' }), instead: null } },
  }
  assert.equal(heldBackFor(state, 'xapi1', { addresses: '10.0.0.9/24', bridge: 'xapi1' }), null)
  assert.equal(heldBackFor(state, 'xapi1', { addresses: '10.0.0.2/24', bridge: 'xapi1' }), undefined)
})
