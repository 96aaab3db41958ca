// iproute's text output, as older iproute (CentOS 7's 4.11) prints it, read into ip -j's shapes.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseAddrText, parseRouteText } from '../../xapi-plugin/kernel/ip-text.ts'

test('addresses: flags, families, prefixes, scopes, DAD states, a peer address', () => {
  const text = [
    '7: xapi1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN qlen 1000',
    '    link/ether 8a:53:0f:cf:4e:b5 brd ff:ff:ff:ff:ff:ff',
    '    inet 192.0.2.2/24 brd 192.0.2.255 scope global xapi1',
    '       valid_lft forever preferred_lft forever',
    '    inet 10.1.1.1 peer 10.1.1.2/32 scope global xapi1',
    '    inet6 2001:db8::2/64 scope global tentative ',
    '    inet6 2001:db8::3/64 scope global dadfailed tentative ',
    '    inet6 fe80::8853:fff:fecf:4eb5/64 scope link ',
    '8: vif3.0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue master xapi1 state DOWN',
  ].join('\n')
  assert.deepEqual(parseAddrText(text), [
    {
      ifname: 'xapi1',
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      addr_info: [
        {
          family: 'inet',
          local: '192.0.2.2',
          prefixlen: 24,
          scope: 'global',
          tentative: undefined,
          dadfailed: undefined,
        },
        {
          family: 'inet',
          local: '10.1.1.1',
          prefixlen: 32,
          scope: 'global',
          tentative: undefined,
          dadfailed: undefined,
        },
        {
          family: 'inet6',
          local: '2001:db8::2',
          prefixlen: 64,
          scope: 'global',
          tentative: true,
          dadfailed: undefined,
        },
        { family: 'inet6', local: '2001:db8::3', prefixlen: 64, scope: 'global', tentative: true, dadfailed: true },
        {
          family: 'inet6',
          local: 'fe80::8853:fff:fecf:4eb5',
          prefixlen: 64,
          scope: 'link',
          tentative: undefined,
          dadfailed: undefined,
        },
      ],
    },
    { ifname: 'vif3.0', flags: ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'], addr_info: [] },
  ])
})

test('routes: defaults with metrics and protocols, host routes, types, flags, cross-family via', () => {
  const text = [
    'default via 192.0.2.1 dev xapi1 proto static metric 100 ',
    'default via 203.0.113.1 dev xenbr0 metric 200 onlink linkdown ',
    '192.0.2.0/24 dev xapi1 proto kernel scope link src 192.0.2.2 ',
    '192.0.2.200 dev xapi1 scope link ',
    'unreachable 198.51.100.0/24 ',
    'default via inet6 fe80::1 dev xapi1 metric 5 ',
  ].join('\n')
  const routes = parseRouteText(text)
  assert.deepEqual(
    routes.map(r => [r.dst, r.gateway, r.dev, r.metric, r.protocol, r.flags]),
    [
      ['default', '192.0.2.1', 'xapi1', 100, 'static', []],
      ['default', '203.0.113.1', 'xenbr0', 200, undefined, ['onlink', 'linkdown']],
      ['192.0.2.0/24', undefined, 'xapi1', undefined, 'kernel', []],
      ['192.0.2.200', undefined, 'xapi1', undefined, undefined, []],
      ['198.51.100.0/24', undefined, undefined, undefined, undefined, []],
      ['default', 'fe80::1', 'xapi1', 5, undefined, []],
    ],
  )
  assert.equal(routes[2]!.scope, 'link')
  assert.equal((routes[4] as { type?: string }).type, 'unreachable')
})
