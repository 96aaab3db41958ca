// A bound firewall VIF's record, checked for what drops or corrupts dom0's traffic.

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type VifFacts, vifProblems } from '../../shared/vif-health.ts'

const vif = (o: Partial<VifFacts> = {}): VifFacts => ({
  uuid: 'u',
  other_config: { 'ethtool-tx': 'off' },
  locking_mode: 'network_default',
  ipv4_allowed: [],
  ipv6_allowed: [],
  ...o,
})
const codes = (facts: VifFacts, networkDefault = 'unlocked', gateways = ['10.0.0.1']) =>
  vifProblems(facts, networkDefault, gateways).map(p => p.code)

describe('firewall VIF health', () => {
  test('ethtool-tx=off (or false) and an unlocked VIF: nothing to say', () => {
    assert.deepEqual(codes(vif()), [])
    assert.deepEqual(codes(vif({ other_config: { 'ethtool-tx': 'false' }, locking_mode: 'unlocked' })), [])
  })
  test('TX checksum offload not turned off, or turned on', () => {
    assert.deepEqual(codes(vif({ other_config: {} })), ['TX_CHECKSUM_OFFLOAD_ON'])
    const [problem] = vifProblems(vif({ other_config: { 'ethtool-tx': 'on' } }), 'unlocked', [])
    assert.match(problem!.message, /"on"/)
    assert.equal(problem!.fix, 'xe vif-param-set uuid=u other-config:ethtool-tx="off"')
  })
  test('locking modes that drop traffic', () => {
    assert.deepEqual(codes(vif({ locking_mode: 'disabled' })), ['LOCKING_MODE_DROPS_TRAFFIC'])
    assert.deepEqual(codes(vif(), 'disabled'), ['LOCKING_MODE_DROPS_TRAFFIC'], "the network's default")
    const locked = vifProblems(vif({ locking_mode: 'locked', ipv4_allowed: ['10.0.0.1'] }), 'unlocked', ['10.0.0.1'])
    assert.match(locked[0]!.message, /only its own addresses/)
    const gatewayMissing = vifProblems(vif({ locking_mode: 'locked' }), 'unlocked', ['10.0.0.1'])
    assert.match(gatewayMissing[0]!.message, /not even the gateway 10\.0\.0\.1/)
    assert.equal(gatewayMissing[0]!.fix, 'xe vif-param-set uuid=u locking-mode=unlocked')
  })
})
