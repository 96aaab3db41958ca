// Which bridges may share one kernel read and one batch (engine/plan/footprint.ts): those
// whose plans neither read nor change what another changes. Planned from the same kernel
// snapshot as a real apply-many would plan them.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type PluginArgs, parseApplyArgs } from '../../shared/plugin-args.ts'
import type { BridgeRecord } from '../../shared/results.ts'
import type { Observed } from '../../xapi-plugin/engine/observe.ts'
import { planApply } from '../../xapi-plugin/engine/plan.ts'
import { mustWait, readsOf, writesOf } from '../../xapi-plugin/engine/plan/footprint.ts'
import { emptyRecord } from '../../xapi-plugin/engine/state.ts'
import { type IpLink, type IpRoute, defaultRoutesOf } from '../../xapi-plugin/kernel/ip.ts'

const link = (ifname: string, cidrs: string[] = []): IpLink => ({
  ifname,
  flags: ['UP'],
  addr_info: cidrs.map(c => ({
    family: 'inet',
    local: c.split('/')[0]!,
    prefixlen: Number(c.split('/')[1]),
    scope: 'global',
  })),
})

const DEFAULT4: IpRoute = { dst: 'default', gateway: '203.0.113.1', dev: 'xenbr0', metric: 100 }

function observedFor(bridge: string, management: string | undefined, cidrs: string[]): Observed {
  const routes = { 4: [DEFAULT4], 6: [] }
  return {
    bridge: link(bridge, cidrs),
    management: management ? link(management, ['203.0.113.5/24']) : undefined,
    routes,
    defaults: { 4: defaultRoutesOf(routes[4], 4), 6: defaultRoutesOf(routes[6], 6) },
    sysctls: { [`/proc/sys/net/ipv4/conf/${bridge}/promote_secondaries`]: '0' },
  }
}

/** A bridge's reads and writes, planned from the same snapshot. */
function footprint(args: PluginArgs, record?: BridgeRecord) {
  const request = parseApplyArgs(args)
  const owned = record ?? emptyRecord(request.bridge)
  const observed = observedFor(request.bridge, request.management?.bridge, owned.addresses)
  const plan = planApply(request, observed, owned, 'now')
  return { reads: readsOf(request, record), writes: writesOf([...plan.make, ...plan.break], owned, plan.final) }
}

/** Whether b must wait for a fresh read once a has run. */
function waits(a: ReturnType<typeof footprint>, b: ReturnType<typeof footprint>): boolean {
  return mustWait(b, a)
}

test('bridges that only bind their own addresses share one read, the one with the gateway too', () => {
  const first = footprint({ bridge: 'xapi0', addresses: '10.100.0.2/24', gateway: '10.100.0.1' })
  const second = footprint({ bridge: 'xapi1', addresses: '10.100.1.2/24' })
  assert.equal(waits(first, second), false)
  assert.equal(waits(second, first), false)
})

test('two default routes of one family cannot share a read; of two families they can', () => {
  const first = footprint({ bridge: 'xapi0', addresses: '10.100.0.2/24', gateway: '10.100.0.1' })
  const second = footprint({ bridge: 'xapi1', addresses: '10.100.1.2/24', gateway: '10.100.1.1' })
  assert.equal(waits(first, second), true)
  const v6 = footprint({ bridge: 'xapi1', addresses: '2001:db8:1::2/64', gateway: '2001:db8:1::1' })
  assert.equal(waits(first, v6), false)
})

test('a route to the subnet another bridge brings waits for that bridge', () => {
  const first = footprint({ bridge: 'xapi0', addresses: '198.18.0.2/24' })
  const second = footprint({ bridge: 'xapi1', addresses: '198.19.0.2/24', routes: '198.18.0.0/24=198.19.0.1' })
  assert.equal(waits(first, second), true)
  const elsewhere = footprint({ bridge: 'xapi1', addresses: '198.19.0.2/24', routes: '198.20.0.0/24=198.19.0.1' })
  assert.equal(waits(first, elsewhere), false)
})

test('mirrors on one management bridge share a read unless they are the same address', () => {
  const mirror = (bridge: string, address: string) =>
    footprint({
      bridge,
      addresses: `${address}/24`,
      'management-address': address,
      'management-bridge': 'xenbr0',
    })
  assert.equal(waits(mirror('xapi0', '10.100.0.2'), mirror('xapi1', '10.100.1.2')), false)
  assert.equal(waits(mirror('xapi0', '10.100.0.2'), mirror('xapi1', '10.100.0.2')), true)
})

test('removing an address may take routes with it: a bridge with routes or default routes waits', () => {
  const record: BridgeRecord = { ...emptyRecord('xapi0'), addresses: ['198.18.0.2/24'] }
  const shrinking = footprint({ bridge: 'xapi0', addresses: '198.18.0.3/24' }, record)
  assert.ok(shrinking.writes.includes('route:*'))
  const withRoute = footprint({ bridge: 'xapi1', addresses: '198.19.0.2/24', routes: '198.21.0.0/24=198.19.0.1' })
  const withGateway = footprint({ bridge: 'xapi1', addresses: '198.19.0.2/24', gateway: '198.19.0.1' })
  assert.equal(waits(shrinking, withRoute), true)
  assert.equal(waits(shrinking, withGateway), true)
  assert.equal(waits(shrinking, footprint({ bridge: 'xapi1', addresses: '198.19.0.2/24' })), false)
})
