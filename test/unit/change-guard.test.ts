// The host's change guard (apply-many refuse-changes=true), on state as the host records it:
// what Xen Orchestra may apply without a confirmation window after a reconnection.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode } from '../../shared/errors.ts'
import { type PluginArgs, canonicalArgs, encodeApplyArgs, parseApplyArgs } from '../../shared/plugin-args.ts'
import type { RevertOutcome } from '../../shared/results.ts'
import { refusedChange } from '../../xapi-plugin/engine/change-guard.ts'
import { type State, emptyRecord, emptyState } from '../../xapi-plugin/engine/state.ts'

const WANTED: PluginArgs = { bridge: 'xapi1', addresses: '192.0.2.3/24', gateway: '192.0.2.1' }
const OTHER: PluginArgs = { bridge: 'xapi1', addresses: '192.0.2.2/24', gateway: '192.0.2.1' }

function holding(desired: PluginArgs | undefined, extra: Partial<State> = {}): State {
  const state = { ...emptyState(), ...extra }
  if (desired) state.bridges.xapi1 = { ...emptyRecord('xapi1'), desired }
  return state
}

const refusal = (state: State) => {
  const error = refusedChange(state, parseApplyArgs(WANTED))
  return error && { code: error.code, bridge: error.details[0], reason: error.details[1], held: error.details[2] }
}

const REVERT: RevertOutcome = {
  token: '6f1c3a52-0d3e-4b8e-9a51-2f1e7c1d9b10',
  deadline: '2026-12-01T00:00:00.000Z',
  revertedAt: '2026-12-01T00:00:00.000Z',
  by: 'deadline',
  bridges: ['xapi1'],
  reason: 'not confirmed in time',
}

test('a bridge holding nothing, or these same arguments, is applied without a window', () => {
  assert.equal(refusal(holding(undefined)), undefined)
  // As the host records it (apply's own encoding), and in another key order.
  assert.equal(refusal(holding(encodeApplyArgs(parseApplyArgs(WANTED)))), undefined)
  assert.equal(refusal(holding({ gateway: '192.0.2.1', bridge: 'xapi1', addresses: '192.0.2.3/24' })), undefined)
})

test('a bridge holding other arguments is refused, with what it holds', () => {
  assert.deepEqual(refusal(holding(OTHER)), {
    code: ErrorCode.NEEDS_CONFIRMATION,
    bridge: 'xapi1',
    reason: 'changed',
    held: JSON.stringify(OTHER),
  })
})

test('a change reverted unconfirmed is refused, even when the bridge holds it or nothing', () => {
  assert.equal(refusal(holding(WANTED, { lastRevert: REVERT }))?.reason, 'reverted')
  // Reverted from nothing: held back with nothing instead; the record is gone.
  const heldBack = { xapi1: { reverted: canonicalArgs(WANTED), instead: null } }
  assert.deepEqual(refusal(holding(undefined, { heldBack })), {
    code: ErrorCode.NEEDS_CONFIRMATION,
    bridge: 'xapi1',
    reason: 'reverted',
    held: '',
  })
  // Another bridge's revert is none of this one's business.
  assert.equal(refusal(holding(WANTED, { lastRevert: { ...REVERT, bridges: ['xapi2'] } })), undefined)
})
