// How changes join a pending confirmation: one token, the later deadline, and the state
// before the first unconfirmed change kept for the revert.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BridgeRecord, Step } from '../../shared/results.ts'
import { canonicalArgs } from '../../shared/plugin-args.ts'
import { joinConfirmation, restartWindow, unconfirmedTokens } from '../../xapi-plugin/engine/confirmation.ts'
import { heldBackFor, holdBack, settleHoldOnApply } from '../../xapi-plugin/engine/held-back.ts'
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

test('later changes join: the same caller keeps its token, the later deadline, the first state before kept', () => {
  const state: State = emptyState()
  const change = (bridge: string, before: BridgeRecord | undefined, steps: Step[], seconds: number, at: number) =>
    joinConfirmation(state, bridge, before, steps, { seconds, token: seconds ? 'first' : undefined }, at)!
  const first = change('xapi1', recordOf('192.0.2.2/24'), [add('192.0.2.3/24')], 60, T0)
  assert.equal(first.deadline, '2026-12-02T00:01:00.000Z')
  const shorter = change('xapi1', recordOf('192.0.2.3/24'), [add('192.0.2.4/24')], 10, T0 + 5000)
  assert.deepEqual([shorter.token, shorter.deadline, shorter.seconds], [first.token, first.deadline, 10])
  const longer = change('xapi2', undefined, [], 120, T0 + 5000)
  assert.deepEqual([longer.token, longer.deadline], [first.token, '2026-12-02T00:02:05.000Z'])
  const without = change('xapi1', undefined, [add('192.0.2.5/24')], 0, T0 + 6000)
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

test('held back: only the reverted arguments applied explicitly, or others from the pool, lift it', () => {
  const reverted = { bridge: 'xapi1', addresses: '10.0.0.9/24' }
  const working = { bridge: 'xapi1', addresses: '10.0.0.2/24' }
  const state: State = { ...emptyState(), heldBack: { xapi1: { reverted: canonicalArgs(reverted), instead: null } } }
  settleHoldOnApply(state, 'xapi1', working)
  assert.deepEqual(heldBackFor(state, 'xapi1', reverted), working, 'explicit, others: they are applied instead')
  settleHoldOnApply(state, 'xapi1', reverted, true)
  assert.deepEqual(heldBackFor(state, 'xapi1', reverted), working, 'from the pool, the reverted ones: held')
  settleHoldOnApply(state, 'xapi1', { addresses: '10.0.0.9/24', bridge: 'xapi1' })
  assert.equal(state.heldBack?.xapi1, undefined, 'explicit, the reverted ones: lifted')
  state.heldBack = { xapi1: { reverted: canonicalArgs(reverted), instead: null } }
  settleHoldOnApply(state, 'xapi1', working, true)
  assert.equal(state.heldBack?.xapi1, undefined, 'from the pool, others: the configuration changed')
})

test('held back: a second revert keeps the first one held too, until each is applied explicitly', () => {
  const first = { bridge: 'xapi1', addresses: '10.0.0.9/24' }
  const second = { bridge: 'xapi1', addresses: '10.0.0.11/24' }
  const working = { bridge: 'xapi1', addresses: '10.0.0.2/24' }
  const state: State = emptyState()
  holdBack(state, 'xapi1', first, working)
  holdBack(state, 'xapi1', second, working)
  assert.deepEqual(heldBackFor(state, 'xapi1', first), working, 'the first one is still held')
  assert.deepEqual(heldBackFor(state, 'xapi1', second), working)
  settleHoldOnApply(state, 'xapi1', first)
  assert.equal(heldBackFor(state, 'xapi1', first), undefined, 'applied explicitly: lifted')
  assert.deepEqual(heldBackFor(state, 'xapi1', second), first, 'the other one held, what was applied instead')
})

test('each caller that asks for a window adds its own token; one that does not gets none', () => {
  const state: State = emptyState()
  const first = joinConfirmation(state, 'xapi1', undefined, [], { seconds: 60, token: 'admin' }, T0)!
  const again = joinConfirmation(state, 'xapi2', undefined, [], { seconds: 60, token: 'admin' }, T0)!
  const other = joinConfirmation(state, 'xapi1', undefined, [], { seconds: 30, token: 'xo' }, T0 + 1000)!
  const plain = joinConfirmation(state, 'xapi3', undefined, [], { seconds: 0 }, T0 + 2000)!
  assert.deepEqual([first.token, again.token, other.token, plain.token], ['admin', 'admin', 'xo', undefined])
  assert.deepEqual(unconfirmedTokens(state.confirmation!), ['admin', 'xo'])
  assert.equal(state.confirmation!.token, 'admin', 'the window is named by its first token')
})

test('the window starts again when the change is in place, never earlier than it was', () => {
  const state: State = emptyState()
  const armed = joinConfirmation(state, 'xapi1', undefined, [], { seconds: 60, token: 't' }, T0)!
  assert.equal(restartWindow(state, armed, T0 + 20_000).deadline, '2026-12-02T00:01:20.000Z')
  assert.equal(state.confirmation!.deadline, '2026-12-02T00:01:20.000Z')
  const short = { ...armed, seconds: 10 }
  assert.equal(restartWindow(state, short, T0 + 30_000).deadline, '2026-12-02T00:01:20.000Z')
})
