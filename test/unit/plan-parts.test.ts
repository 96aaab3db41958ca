// Each owned resource's planner on its own (xapi-plugin/engine/plan/): the rule it keeps,
// checked on the smallest kernel snapshot that shows it. plan.test.ts checks them together.

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type ApplyRequest, type PluginArgs, parseApplyArgs } from '../../shared/plugin-args.ts'
import type { BridgeRecord, Step } from '../../shared/results.ts'
import type { Observed } from '../../xapi-plugin/engine/observe.ts'
import { planAddresses } from '../../xapi-plugin/engine/plan/addresses.ts'
import { planDefaultRoutes, restoreDefaultRoute } from '../../xapi-plugin/engine/plan/default-routes.ts'
import { mayStillHold, planMirror } from '../../xapi-plugin/engine/plan/mirror.ts'
import { orderRemovals } from '../../xapi-plugin/engine/plan/order.ts'
import { planRelease } from '../../xapi-plugin/engine/plan/release.ts'
import { planRoutes, removeOwnedRoute } from '../../xapi-plugin/engine/plan/routes.ts'
import { inverseOf } from '../../xapi-plugin/engine/execute.ts'
import { desiredSysctls, planSysctls } from '../../xapi-plugin/engine/plan/sysctls.ts'
import { emptyRecord } from '../../xapi-plugin/engine/state.ts'
import { type IpLink, type IpRoute, defaultRoutesOf } from '../../xapi-plugin/kernel/ip.ts'

const request = (args: PluginArgs): ApplyRequest => parseApplyArgs({ bridge: 'xapi1', ...args })

function link(ifname: string, cidrs: string[] = []): IpLink {
  return {
    ifname,
    flags: ['UP'],
    addr_info: cidrs.map(c => {
      const [local, prefix] = c.split('/') as [string, string]
      return { family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen: Number(prefix), scope: 'global' }
    }),
  }
}

function observed(parts: Partial<Omit<Observed, 'defaults'>> = {}): Observed {
  const routes = parts.routes ?? { 4: [], 6: [] }
  return {
    bridge: parts.bridge ?? link('xapi1'),
    management: parts.management,
    routes,
    defaults: { 4: defaultRoutesOf(routes[4], 4), 6: defaultRoutesOf(routes[6], 6) },
    sysctls: parts.sysctls ?? {},
  }
}

const record = (parts: Partial<BridgeRecord>): BridgeRecord => ({ ...emptyRecord('xapi1'), ...parts })
const actions = (steps: Step[]) => steps.map(s => s.action)

describe('planAddresses', () => {
  test('adds what is missing and owns it; leaves a present foreign address unowned', () => {
    const part = planAddresses(
      request({ addresses: '192.0.2.2/24,192.0.2.3/24' }),
      link('xapi1', ['192.0.2.3/24']),
      record({}),
    )
    assert.deepEqual(part.make, [{ action: 'add-address', dev: 'xapi1', cidr: '192.0.2.2/24' }])
    assert.deepEqual(part.owned, ['192.0.2.2/24'])
    assert.deepEqual(part.unchanged, [{ what: 'address', value: '192.0.2.3/24 dev xapi1' }])
  })

  test('removes an owned address no longer wanted, in break', () => {
    const part = planAddresses(
      request({ addresses: '192.0.2.2/24' }),
      link('xapi1', ['192.0.2.2/24', '192.0.2.9/24']),
      record({ addresses: ['192.0.2.2/24', '192.0.2.9/24'] }),
    )
    assert.deepEqual(part.make, [])
    assert.deepEqual(part.break, [{ action: 'remove-address', dev: 'xapi1', cidr: '192.0.2.9/24' }])
  })

  test('an IPv6 prefix change removes the old prefix just before adding the new one', () => {
    const part = planAddresses(
      request({ addresses: '2001:db8::2/56' }),
      link('xapi1', ['2001:db8::2/64']),
      record({ addresses: ['2001:db8::2/64'] }),
    )
    assert.deepEqual(actions(part.make), ['remove-address', 'add-address'])
    assert.deepEqual(part.break, [])
  })
})

describe('planMirror', () => {
  const wanted = request({
    addresses: '192.0.2.2/24',
    'management-address': '192.0.2.2',
    'management-bridge': 'xenbr0',
  })

  test('mirrors the address as /32 on the management bridge', () => {
    const part = planMirror(wanted, observed({ management: link('xenbr0') }), record({}))
    assert.deepEqual(part.make, [{ action: 'add-address', dev: 'xenbr0', cidr: '192.0.2.2/32' }])
    assert.deepEqual(part.owned, [{ dev: 'xenbr0', cidr: '192.0.2.2/32' }])
  })

  test('a missing management bridge is NO_SUCH_DEVICE naming it', () => {
    assert.throws(
      () => planMirror(wanted, observed(), record({})),
      (e: unknown) => e instanceof BinderError && e.code === ErrorCode.NO_SUCH_DEVICE && /xenbr0/.test(e.message),
    )
  })

  test('a mirror on a bridge not observed is assumed present, so its removal is tried', () => {
    const mirror = { dev: 'xenbr1', cidr: '192.0.2.2/32' }
    assert.equal(mayStillHold(mirror, observed({ management: link('xenbr0') })), true)
    assert.equal(mayStillHold(mirror, observed({ management: link('xenbr1') })), false)
  })
})

describe('planSysctls', () => {
  const path = '/proc/sys/net/ipv4/conf/xapi1/proxy_arp'
  const promote = '/proc/sys/net/ipv4/conf/xapi1/promote_secondaries'

  test('IPv4 addresses always want promote_secondaries; proxy-arp adds its own', () => {
    assert.deepEqual(
      desiredSysctls(request({ addresses: '192.0.2.2/24', 'proxy-arp': 'true' })).map(s => s.path),
      [promote, path],
    )
    assert.deepEqual(desiredSysctls(request({ addresses: '2001:db8::2/64' })), [])
  })

  test('remembers the first value found, and gives it back when no longer wanted', () => {
    const on = planSysctls(
      request({ addresses: '192.0.2.2/24', 'proxy-arp': 'true' }),
      observed({ sysctls: { [path]: '0', [promote]: '1' } }),
      record({}),
    )
    assert.deepEqual(on.owned, [{ path, value: '1', previous: '0' }])
    const off = planSysctls(
      request({ addresses: '192.0.2.2/24' }),
      observed({ sysctls: { [path]: '1', [promote]: '1' } }),
      record({ sysctls: on.owned }),
    )
    assert.deepEqual(off.break, [{ action: 'set-sysctl', path, value: '0', previous: '1' }])
  })

  test('a sysctl the kernel does not have is NO_SUCH_DEVICE', () => {
    assert.throws(
      () => planSysctls(request({ addresses: '192.0.2.2/24' }), observed(), record({})),
      (e: unknown) => e instanceof BinderError && e.code === ErrorCode.NO_SUCH_DEVICE,
    )
  })
})

describe('planRoutes', () => {
  const foreign: IpRoute = { dst: '198.51.100.0/24', gateway: '203.0.113.1', dev: 'xenbr0' }

  test('refuses to overwrite a route it does not own (CONFLICT naming the destination)', () => {
    assert.throws(
      () =>
        planRoutes(
          request({ addresses: '192.0.2.2/24', routes: '198.51.100.0/24=192.0.2.1' }),
          observed({ routes: { 4: [foreign], 6: [] } }),
          record({}),
        ),
      (e: unknown) =>
        e instanceof BinderError && e.code === ErrorCode.CONFLICT && /198\.51\.100\.0\/24/.test(e.message),
    )
  })

  test('replaces a route it owns that changed next hop', () => {
    const part = planRoutes(
      request({ addresses: '192.0.2.2/24', routes: '198.51.100.0/24=192.0.2.1' }),
      observed({ routes: { 4: [foreign], 6: [] } }),
      record({ routes: [{ destination: '198.51.100.0/24', via: '192.0.2.9' }] }),
    )
    assert.deepEqual(part.make, [
      {
        action: 'add-route',
        family: 4,
        destination: '198.51.100.0/24',
        via: '192.0.2.1',
        dev: 'xapi1',
        replace: true,
        previous: { via: '203.0.113.1', dev: 'xenbr0' },
      },
    ])
    // Undone, the route the kernel had comes back.
    assert.deepEqual(inverseOf(part.make[0]!), {
      action: 'add-route',
      family: 4,
      destination: '198.51.100.0/24',
      via: '203.0.113.1',
      dev: 'xenbr0',
      replace: true,
      previous: undefined,
    })
  })

  test('removes an owned route only while the kernel still has it as made', () => {
    const owned = { destination: '198.51.100.0/24', via: '192.0.2.1' }
    const ours: IpRoute = { dst: '198.51.100.0/24', gateway: '192.0.2.1', dev: 'xapi1' }
    assert.equal(removeOwnedRoute(owned, 'xapi1', observed({ routes: { 4: [ours], 6: [] } })).length, 1)
    assert.equal(removeOwnedRoute(owned, 'xapi1', observed()).length, 0)
  })
})

describe('planDefaultRoutes', () => {
  const previous: IpRoute = { dst: 'default', gateway: '203.0.113.1', dev: 'xenbr0', metric: 100 }

  test('switches in the slot of the route in use and keeps it as previous', () => {
    const part = planDefaultRoutes(
      request({ addresses: '192.0.2.2/24', gateway: '192.0.2.1' }),
      observed({ routes: { 4: [previous], 6: [] } }),
      record({}),
      [],
    )
    assert.deepEqual(actions(part.make), ['switch-default-route'])
    assert.deepEqual(part.owned[0]?.ours, { family: 4, gateway: '192.0.2.1', dev: 'xapi1', metric: 100 })
    assert.equal(part.owned[0]?.previous?.gateway, '203.0.113.1')
    assert.equal(part.owned[0]?.previous?.dev, 'xenbr0')
  })

  test('a route somebody set since is theirs: restore gives nothing back', () => {
    const entry = {
      family: 4 as const,
      ours: { family: 4 as const, gateway: '192.0.2.1', dev: 'xapi1', metric: 100 },
      previous: { family: 4 as const, gateway: '203.0.113.1', dev: 'xenbr0', metric: 100 },
    }
    const theirs: IpRoute = { dst: 'default', gateway: '203.0.113.7', dev: 'xenbr0', metric: 100 }
    assert.deepEqual(restoreDefaultRoute(entry, observed({ routes: { 4: [theirs], 6: [] } })), [])
    assert.deepEqual(actions(restoreDefaultRoute(entry, observed())), ['switch-default-route'])
  })
})

describe('orderRemovals and planRelease', () => {
  test('mirrors first, then default routes, routes, bridge addresses, sysctls', () => {
    const steps: Step[] = [
      { action: 'set-sysctl', path: 'p', value: '0', previous: '1' },
      { action: 'remove-address', dev: 'xapi1', cidr: '192.0.2.2/24' },
      { action: 'remove-route', family: 4, destination: '198.51.100.0/24', dev: 'xapi1' },
      { action: 'remove-default-route', family: 4, route: { family: 4 }, description: '' },
      { action: 'remove-address', dev: 'xenbr0', cidr: '192.0.2.2/32' },
    ]
    assert.deepEqual(
      orderRemovals(steps, 'xapi1').map(s => ('dev' in s ? `${s.action} ${s.dev}` : s.action)),
      ['remove-address xenbr0', 'remove-default-route', 'remove-route xapi1', 'remove-address xapi1', 'set-sysctl'],
    )
  })

  test('release of a bridge that is gone restores the default route and removes the mirror only', () => {
    const steps = planRelease(
      record({
        addresses: ['192.0.2.2/24'],
        mirrors: [{ dev: 'xenbr0', cidr: '192.0.2.2/32' }],
        defaultRoutes: [
          {
            family: 4,
            ours: { family: 4, gateway: '192.0.2.1', dev: 'xapi1', metric: 100 },
            previous: { family: 4, gateway: '203.0.113.1', dev: 'xenbr0', metric: 100 },
          },
        ],
      }),
      { ...observed({ management: link('xenbr0', ['192.0.2.2/32']) }), bridge: undefined },
    )
    assert.deepEqual(actions(steps), ['remove-address', 'switch-default-route'])
  })
})
