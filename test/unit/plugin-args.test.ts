// The plugin's argument contract (shared/plugin-args.ts) and the address parsing under it
// (shared/addresses.ts). Every rejection must be a BinderError with the stable
// INVALID_ARGUMENT code and a message that names the offending text.

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { contains, networkOf, parseInterfaceCidr, parseIp, parseRouteDestination } from '../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import {
  type ApplyRequest,
  DEFAULT_GATEWAY_CHECK_SECONDS,
  type PluginArgs,
  encodeApplyArgs,
  parseApplyArgs,
  parseNoArgs,
  parseReleaseArgs,
  parseStatusArgs,
} from '../../shared/plugin-args.ts'

/** Asserts `run` throws INVALID_ARGUMENT whose message contains every one of `named`. */
function assertInvalid(run: () => unknown, ...named: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof BinderError, `expected a BinderError, got ${String(error)}`)
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT)
    assert.equal(error.errorDescription[0], 'VIF_IP_BINDER_INVALID_ARGUMENT')
    for (const text of named)
      assert.ok(
        error.message.includes(text),
        `message ${JSON.stringify(error.message)} does not name ${JSON.stringify(text)}`,
      )
    return true
  })
}

const BASE: PluginArgs = { bridge: 'xapi1', addresses: '10.0.0.2/24' }
const DUAL: PluginArgs = { bridge: 'xapi1', addresses: '10.0.0.2/24,fd00:1::2/64' }

describe('addresses.ts', () => {
  test('parseIp: canonical text and family', () => {
    const cases: [string, string, 4 | 6][] = [
      ['10.0.0.1', '10.0.0.1', 4],
      ['0.0.0.0', '0.0.0.0', 4],
      ['FD00:0001:0000:0000::0002', 'fd00:1::2', 6],
      ['2001:db8:0:0:0:0:0:1', '2001:db8::1', 6],
      ['fe80::1', 'fe80::1', 6],
    ]
    for (const [text, address, family] of cases) assert.deepEqual(parseIp(text, 'x'), { address, family })
  })

  test('parseIp: rejects non-addresses, naming them', () => {
    for (const text of [
      '10.1',
      '010.0.0.1',
      '10.0.0.1.',
      '1.2.3.256',
      '0x0a.0.0.1',
      'fe80::1%eth0',
      '::g',
      'host',
      '',
      ' 10.0.0.1',
    ]) {
      assertInvalid(() => parseIp(text, 'gateway'), 'gateway', text)
    }
  })

  test('parseInterfaceCidr: accepts host addresses, canonicalises', () => {
    const cases: [string, string, number, 4 | 6][] = [
      ['10.0.0.2/24', '10.0.0.2', 24, 4],
      ['172.16.5.4/12', '172.16.5.4', 12, 4],
      ['10.0.0.1/8', '10.0.0.1', 8, 4],
      ['10.0.0.0/31', '10.0.0.0', 31, 4], // RFC 3021: both ends of a /31 are hosts
      ['10.0.0.255/32', '10.0.0.255', 32, 4],
      ['100.64.0.2/10', '100.64.0.2', 10, 4],
      ['FD00:1::0002/64', 'fd00:1::2', 64, 6],
      ['fe80::2/64', 'fe80::2', 64, 6],
      ['fd00:1::2/128', 'fd00:1::2', 128, 6],
    ]
    for (const [text, address, prefix, family] of cases) {
      assert.deepEqual(parseInterfaceCidr(text, 'addresses'), { address, prefix, family }, text)
    }
  })

  test('parseInterfaceCidr: accepts the documentation ranges its own doc comment uses as examples', () => {
    // RFC 5737 / RFC 3849 ranges: what docs, tests and labs use (and the JSDoc examples).
    for (const text of ['192.0.2.2/24', '198.51.100.7/24', '203.0.113.9/24', '2001:db8::2/64']) {
      assert.doesNotThrow(() => parseInterfaceCidr(text, 'addresses'), text)
    }
  })

  test('parseRouteDestination: networks and bare host addresses', () => {
    assert.deepEqual(parseRouteDestination('172.16.0.0/12', 'routes'), { address: '172.16.0.0', prefix: 12, family: 4 })
    assert.deepEqual(parseRouteDestination('10.9.9.9', 'routes'), { address: '10.9.9.9', prefix: 32, family: 4 })
    assert.deepEqual(parseRouteDestination('FD00:2::', 'routes'), { address: 'fd00:2::', prefix: 128, family: 6 })
    assert.deepEqual(parseRouteDestination('fd00:2::/48', 'routes'), { address: 'fd00:2::', prefix: 48, family: 6 })
  })

  test('networkOf and contains', () => {
    assert.equal(networkOf({ address: '10.1.2.3', prefix: 16, family: 4 }), '10.1.0.0')
    assert.equal(networkOf({ address: 'fd00:1:2:3::9', prefix: 48, family: 6 }), 'fd00:1:2::')
    const v4 = { address: '10.0.0.2', prefix: 24, family: 4 as const }
    assert.equal(contains(v4, '10.0.0.254'), true)
    assert.equal(contains(v4, '10.0.1.1'), false)
    assert.equal(contains(v4, 'fd00::1'), false)
    assert.equal(contains({ address: 'fd00:1::2', prefix: 64, family: 6 }, 'fd00:1::ffff'), true)
    assert.equal(contains({ address: 'fd00:1::2', prefix: 64, family: 6 }, '10.0.0.1'), false)
  })
})

describe('parseApplyArgs: good input', () => {
  test('minimal call gets the documented defaults', () => {
    assert.deepEqual(parseApplyArgs(BASE), {
      bridge: 'xapi1',
      addresses: [{ address: '10.0.0.2', prefix: 24, family: 4 }],
      gateways: [],
      routes: [],
      management: undefined,
      proxyArp: false,
      forwarding: false,
      gatewayCheckSeconds: DEFAULT_GATEWAY_CHECK_SECONDS,
      dryRun: false,
    } satisfies ApplyRequest)
    assert.equal(DEFAULT_GATEWAY_CHECK_SECONDS, 10)
  })

  test('every argument, dual stack, lists with spaces', () => {
    const request = parseApplyArgs({
      bridge: 'xapi12',
      addresses: ' 10.0.0.2/24 ,  FD00:1::2/64 ',
      gateway: '10.0.0.1 , fd00:1::1',
      routes: '172.16.0.0/12=10.0.0.1, 10.9.9.9 ,fd00:2::/48=FD00:1::1,fd00:3::/64',
      'management-address': '10.0.0.2',
      'management-bridge': 'xenbr0',
      'proxy-arp': 'true',
      forwarding: 'true',
      'gateway-check': '300',
      'dry-run': 'true',
    })
    assert.deepEqual(request, {
      bridge: 'xapi12',
      addresses: [
        { address: '10.0.0.2', prefix: 24, family: 4 },
        { address: 'fd00:1::2', prefix: 64, family: 6 },
      ],
      gateways: [
        { address: '10.0.0.1', family: 4 },
        { address: 'fd00:1::1', family: 6 },
      ],
      routes: [
        { destination: { address: '172.16.0.0', prefix: 12, family: 4 }, via: '10.0.0.1' },
        { destination: { address: '10.9.9.9', prefix: 32, family: 4 } },
        { destination: { address: 'fd00:2::', prefix: 48, family: 6 }, via: 'fd00:1::1' },
        { destination: { address: 'fd00:3::', prefix: 64, family: 6 } },
      ],
      management: { address: '10.0.0.2', family: 4, bridge: 'xenbr0' },
      proxyArp: true,
      forwarding: true,
      gatewayCheckSeconds: 300,
      dryRun: true,
    } satisfies ApplyRequest)
  })

  test('IPv6 only, with an IPv6 gateway', () => {
    const request = parseApplyArgs({ bridge: 'xapi1', addresses: 'fd00:1::2/64', gateway: 'fd00:1::1' })
    assert.deepEqual(request.gateways, [{ address: 'fd00:1::1', family: 6 }])
  })

  test('gateway in the second of two IPv4 prefixes', () => {
    const request = parseApplyArgs({ bridge: 'xapi1', addresses: '10.0.0.2/24,10.1.0.2/24', gateway: '10.1.0.1' })
    assert.deepEqual(request.gateways, [{ address: '10.1.0.1', family: 4 }])
  })

  test('explicit false / empty optional values equal the defaults', () => {
    const request = parseApplyArgs({
      ...BASE,
      gateway: '',
      routes: ' ',
      'proxy-arp': 'false',
      forwarding: '',
      'dry-run': 'false',
      'gateway-check': '',
    })
    assert.deepEqual(request, parseApplyArgs(BASE))
  })

  test('gateway-check bounds: 0 and 300', () => {
    assert.equal(parseApplyArgs({ ...BASE, 'gateway-check': '0' }).gatewayCheckSeconds, 0)
    assert.equal(parseApplyArgs({ ...BASE, 'gateway-check': '300' }).gatewayCheckSeconds, 300)
  })

  test('interface names xapi and admins use', () => {
    for (const name of ['xapi0', 'xenbr0', 'a', 'eth0.100', 'br-lan_1', 'abcdefghijklmno']) {
      assert.equal(parseApplyArgs({ ...BASE, bridge: name }).bridge, name)
    }
  })
})

describe('parseApplyArgs: bad input', () => {
  // [case, args, texts the message must contain]
  const corpus: [string, PluginArgs, string[]][] = [
    // required arguments
    ['bridge missing', { addresses: '10.0.0.2/24' }, ['bridge']],
    ['bridge empty', { bridge: '', addresses: '10.0.0.2/24' }, ['bridge']],
    ['addresses missing', { bridge: 'xapi1' }, ['addresses']],
    ['addresses empty', { bridge: 'xapi1', addresses: '' }, ['addresses']],
    ['addresses blank', { bridge: 'xapi1', addresses: '  ' }, ['addresses']],
    // malformed addresses
    ['prefix /33', { ...BASE, addresses: '10.0.0.1/33' }, ['10.0.0.1/33']],
    ['two-part IPv4', { ...BASE, addresses: '10.1/8' }, ['10.1']],
    ['octal-looking IPv4', { ...BASE, addresses: '010.0.0.1/8' }, ['010.0.0.1']],
    ['octet 256', { ...BASE, addresses: '10.0.0.256/24' }, ['10.0.0.256']],
    ['hex IPv4', { ...BASE, addresses: '0x0a.0.0.1/8' }, ['0x0a.0.0.1']],
    ['IPv6 prefix /129', { ...BASE, addresses: '2001:db8::1/129' }, ['2001:db8::1/129']],
    ['IPv6 with zone', { ...BASE, addresses: 'fe80::1%eth0/64' }, ['fe80::1%eth0']],
    ['no prefix length', { ...BASE, addresses: '10.0.0.2' }, ['10.0.0.2']],
    ['empty prefix length', { ...BASE, addresses: '10.0.0.2/' }, ['10.0.0.2/']],
    ['word prefix length', { ...BASE, addresses: '10.0.0.2/abc' }, ['10.0.0.2/abc']],
    ['negative prefix length', { ...BASE, addresses: '10.0.0.2/-1' }, ['10.0.0.2/-1']],
    ['two slashes', { ...BASE, addresses: '10.0.0.2/24/8' }, ['10.0.0.2/24/8']],
    ['prefix /0', { ...BASE, addresses: '10.0.0.2/0' }, ['10.0.0.2/0']],
    ['a name, not an address', { ...BASE, addresses: 'firewall/24' }, ['firewall']],
    ['empty list item', { ...BASE, addresses: '10.0.0.2/24,,10.0.0.3/24' }, ['10.0.0.2/24,,10.0.0.3/24']],
    ['trailing comma', { ...BASE, addresses: '10.0.0.2/24,' }, ['10.0.0.2/24,']],
    // unusable ranges
    ['unspecified 0.0.0.0/8', { ...BASE, addresses: '0.0.0.0/8' }, ['0.0.0.0/8']],
    ['multicast 224.0.0.1/4', { ...BASE, addresses: '224.0.0.1/4' }, ['224.0.0.1/4']],
    ['loopback 127.0.0.1/8', { ...BASE, addresses: '127.0.0.1/8' }, ['127.0.0.1/8']],
    ['limited broadcast', { ...BASE, addresses: '255.255.255.255/32' }, ['255.255.255.255/32']],
    ['IPv6 unspecified', { ...BASE, addresses: '::/64' }, ['::/64']],
    ['IPv6 loopback', { ...BASE, addresses: '::1/128' }, ['::1/128']],
    ['IPv6 multicast', { ...BASE, addresses: 'ff02::1/64' }, ['ff02::1/64']],
    ['IPv4-mapped IPv6', { ...BASE, addresses: '::ffff:10.0.0.2/120' }, ['::ffff:10.0.0.2/120']],
    ['network address of a /24', { ...BASE, addresses: '10.0.0.0/24' }, ['10.0.0.0/24']],
    ['broadcast address of a /24', { ...BASE, addresses: '10.0.0.255/24' }, ['10.0.0.255/24']],
    ['network address of a /30', { ...BASE, addresses: '10.0.0.4/30' }, ['10.0.0.4/30']],
    ['broadcast address of a /30', { ...BASE, addresses: '10.0.0.7/30' }, ['10.0.0.7/30']],
    ['broadcast address of a /8', { ...BASE, addresses: '10.255.255.255/8' }, ['10.255.255.255/8']],
    // duplicates
    ['same address twice', { ...BASE, addresses: '10.0.0.2/24,10.0.0.2/24' }, ['10.0.0.2']],
    ['same address, two prefixes', { ...BASE, addresses: '10.0.0.2/24,10.0.0.2/16' }, ['10.0.0.2']],
    ['same IPv6 address, two spellings', { ...BASE, addresses: 'fd00:1::2/64,FD00:1:0::2/64' }, ['fd00:1::2']],
    // gateways
    ['IPv6 gateway with IPv4 addresses only', { ...BASE, gateway: 'fd00:1::1' }, ['fd00:1::1', 'IPv6']],
    [
      'IPv4 gateway with IPv6 addresses only',
      { bridge: 'xapi1', addresses: 'fd00:1::2/64', gateway: '10.0.0.1' },
      ['10.0.0.1', 'IPv4'],
    ],
    ['gateway outside every prefix', { ...BASE, gateway: '10.0.1.1' }, ['10.0.1.1']],
    ['IPv6 gateway outside every prefix', { ...DUAL, gateway: 'fd00:2::1' }, ['fd00:2::1']],
    ['two IPv4 gateways', { ...BASE, gateway: '10.0.0.1,10.0.0.3' }, ['10.0.0.1,10.0.0.3']],
    ['two IPv6 gateways', { ...DUAL, gateway: 'fd00:1::1,fd00:1::3' }, ['fd00:1::1,fd00:1::3']],
    ['gateway is a bound address', { ...BASE, gateway: '10.0.0.2' }, ['10.0.0.2']],
    ['gateway with a prefix', { ...BASE, gateway: '10.0.0.1/24' }, ['10.0.0.1/24']],
    ['gateway two-part', { ...BASE, gateway: '10.1' }, ['10.1']],
    ['gateway with zone', { ...DUAL, gateway: 'fe80::1%xapi1' }, ['fe80::1%xapi1']],
    ['gateway empty item', { ...BASE, gateway: '10.0.0.1,' }, ['10.0.0.1,']],
    // bridge names
    ['bridge name too long', { ...BASE, bridge: 'abcdefghijklmnop' }, ['abcdefghijklmnop']],
    ['bridge path traversal', { ...BASE, bridge: '../x' }, ['../x']],
    ['bridge dot-dot', { ...BASE, bridge: '..' }, ['..']],
    ['bridge with space', { ...BASE, bridge: 'a b' }, ['a b']],
    ['bridge shell separator', { ...BASE, bridge: 'x;reboot' }, ['x;reboot']],
    ['bridge command substitution', { ...BASE, bridge: '$(id)' }, ['$(id)']],
    ['bridge backticks', { ...BASE, bridge: '`id`' }, ['`id`']],
    ['bridge looks like an option', { ...BASE, bridge: '-all' }, ['-all']],
    ['bridge with slash', { ...BASE, bridge: 'x/y' }, ['x/y']],
    ['bridge non-ASCII', { ...BASE, bridge: 'brü' }, ['brü']],
    ['bridge with newline', { ...BASE, bridge: 'xapi1\n' }, ['xapi1']],
    // management mirror
    ['management-address without bridge', { ...BASE, 'management-address': '10.0.0.2' }, ['management-bridge']],
    ['management-bridge without address', { ...BASE, 'management-bridge': 'xenbr0' }, ['management-address']],
    [
      'management-address malformed',
      { ...BASE, 'management-address': '10.0.0', 'management-bridge': 'xenbr0' },
      ['10.0.0'],
    ],
    [
      'management-address with prefix',
      { ...BASE, 'management-address': '10.0.0.2/24', 'management-bridge': 'xenbr0' },
      ['10.0.0.2/24'],
    ],
    [
      'management-bridge bad name',
      { ...BASE, 'management-address': '10.0.0.2', 'management-bridge': 'x;reboot' },
      ['x;reboot'],
    ],
    [
      'management-bridge is the bridge',
      { ...BASE, 'management-address': '10.0.0.2', 'management-bridge': 'xapi1' },
      ['xapi1'],
    ],
    // unknown keys
    ['unknown key (typo)', { ...BASE, gateways: '10.0.0.1' }, ['gateways']],
    ['unknown key (case)', { ...BASE, Bridge: 'xapi1' }, ['Bridge']],
    ['unknown key (underscore)', { ...BASE, dry_run: 'true' }, ['dry_run']],
    // booleans
    ['proxy-arp yes', { ...BASE, 'proxy-arp': 'yes' }, ['yes', 'proxy-arp']],
    ['forwarding 1', { ...BASE, forwarding: '1' }, ['1', 'forwarding']],
    ['dry-run TRUE', { ...BASE, 'dry-run': 'TRUE' }, ['TRUE', 'dry-run']],
    ['dry-run padded', { ...BASE, 'dry-run': ' true' }, [' true']],
    // gateway check
    ['gateway-check 301', { ...BASE, 'gateway-check': '301' }, ['301']],
    ['gateway-check 99999', { ...BASE, 'gateway-check': '99999' }, ['99999']],
    ['gateway-check negative', { ...BASE, 'gateway-check': '-1' }, ['-1']],
    ['gateway-check fraction', { ...BASE, 'gateway-check': '1.5' }, ['1.5']],
    ['gateway-check word', { ...BASE, 'gateway-check': 'ten' }, ['ten']],
    ['gateway-check with unit', { ...BASE, 'gateway-check': '10s' }, ['10s']],
    // routes
    ['route destination with host bits', { ...BASE, routes: '10.9.0.1/16' }, ['10.9.0.1/16']],
    ['route destination with host bits (IPv6)', { ...DUAL, routes: 'fd00:9::1/48' }, ['fd00:9::1/48']],
    ['route destination with host bits and via', { ...BASE, routes: '10.9.0.1/16=10.0.0.1' }, ['10.9.0.1/16']],
    ['route to default', { ...BASE, routes: '0.0.0.0/0=10.0.0.1' }, ['0.0.0.0/0']],
    ['route to IPv6 default', { ...DUAL, routes: '::/0=fd00:1::1' }, ['::/0']],
    ['route prefix /33', { ...BASE, routes: '10.9.0.0/33' }, ['10.9.0.0/33']],
    ['route destination malformed', { ...BASE, routes: '10.9/16' }, ['10.9']],
    ['route mixes families', { ...BASE, routes: '10.9.0.0/16=fd00:1::1' }, ['10.9.0.0/16=fd00:1::1']],
    ['route mixes families (IPv6 dest)', { ...DUAL, routes: 'fd00:9::/48=10.0.0.1' }, ['fd00:9::/48=10.0.0.1']],
    ['route via with a prefix', { ...BASE, routes: '10.9.0.0/16=10.0.0.1/24' }, ['10.0.0.1/24']],
    ['route via empty', { ...BASE, routes: '10.9.0.0/16=' }, ['routes']],
    ['route listed twice', { ...BASE, routes: '10.9.0.0/16,10.9.0.0/16=10.0.0.1' }, ['10.9.0.0/16']],
    ['route empty item', { ...BASE, routes: '10.9.0.0/16,,' }, ['10.9.0.0/16,,']],
  ]
  for (const [name, args, named] of corpus) {
    test(name, () => assertInvalid(() => parseApplyArgs(args), ...named))
  }

  test('route next hop outside every bound prefix (the kernel would refuse it mid-apply)', () => {
    // Validate everything before touching anything: `ip route add … via X dev <bridge>`
    // needs X on-link, i.e. inside a prefix bound on that bridge, just like the gateway.
    assertInvalid(() => parseApplyArgs({ ...BASE, routes: '172.16.0.0/12=192.168.99.1' }), '192.168.99.1')
  })
})

describe('encodeApplyArgs: the inverse of parseApplyArgs', () => {
  const canonical: [string, PluginArgs][] = [
    ['minimal', BASE],
    [
      'everything',
      {
        bridge: 'xapi12',
        addresses: '10.0.0.2/24,fd00:1::2/64',
        gateway: '10.0.0.1,fd00:1::1',
        routes: '172.16.0.0/12=10.0.0.1,10.9.9.9/32,fd00:2::/48=fd00:1::1',
        'management-address': 'fd00:1::2',
        'management-bridge': 'xenbr0',
        'proxy-arp': 'true',
        forwarding: 'true',
        'gateway-check': '0',
        'dry-run': 'true',
      },
    ],
  ]
  for (const [name, args] of canonical) {
    test(`canonical input comes back byte for byte: ${name}`, () => {
      assert.deepEqual(encodeApplyArgs(parseApplyArgs(args)), args)
    })
  }

  const sloppy: [string, PluginArgs][] = [
    [
      'spaces and upper-case IPv6',
      { bridge: 'xapi1', addresses: ' FD00:1:0::2/64 , 10.0.0.2/24', gateway: ' FD00:1::1 ', routes: ' 10.9.9.9 ' },
    ],
    [
      'explicit defaults',
      {
        ...BASE,
        'proxy-arp': 'false',
        forwarding: 'false',
        'dry-run': 'false',
        'gateway-check': '10',
        gateway: '',
        routes: '',
      },
    ],
    ['gateway-check 300', { ...BASE, 'gateway-check': '300' }],
  ]
  for (const [name, args] of sloppy) {
    test(`non-canonical input re-parses to the same request: ${name}`, () => {
      const request = parseApplyArgs(args)
      const encoded = encodeApplyArgs(request)
      assert.deepEqual(parseApplyArgs(encoded), request)
      assert.deepEqual(encodeApplyArgs(parseApplyArgs(encoded)), encoded) // a fixed point
    })
  }

  test('canonical spelling of the sloppy case', () => {
    assert.deepEqual(encodeApplyArgs(parseApplyArgs(sloppy[0]![1])), {
      bridge: 'xapi1',
      addresses: 'fd00:1::2/64,10.0.0.2/24',
      gateway: 'fd00:1::1',
      routes: '10.9.9.9/32',
    })
  })

  test('defaults are left out; dryRun may be omitted', () => {
    const { dryRun: _, ...request } = parseApplyArgs({ ...BASE, 'dry-run': 'true' })
    assert.deepEqual(encodeApplyArgs(request), BASE)
  })
})

describe('release, status and no-argument functions', () => {
  test('parseReleaseArgs: good input', () => {
    assert.deepEqual(parseReleaseArgs({ bridge: 'xapi1' }), { bridge: 'xapi1', dryRun: false })
    assert.deepEqual(parseReleaseArgs({ bridge: 'xapi1', 'dry-run': 'true' }), { bridge: 'xapi1', dryRun: true })
    assert.deepEqual(parseReleaseArgs({ bridge: 'xapi1', 'dry-run': 'false' }), { bridge: 'xapi1', dryRun: false })
  })

  test('parseStatusArgs: good input', () => {
    assert.deepEqual(parseStatusArgs({}), {})
    assert.deepEqual(parseStatusArgs({ bridge: '' }), {})
    assert.deepEqual(parseStatusArgs({ bridge: 'xapi1' }), { bridge: 'xapi1' })
  })

  test('parseNoArgs: empty map accepted', () => {
    assert.equal(parseNoArgs('version', {}), undefined)
  })

  const corpus: [string, () => unknown, string[]][] = [
    ['release: bridge missing', () => parseReleaseArgs({}), ['bridge']],
    ['release: bridge empty', () => parseReleaseArgs({ bridge: '' }), ['bridge']],
    ['release: bad bridge', () => parseReleaseArgs({ bridge: '$(id)' }), ['$(id)']],
    ['release: bridge too long', () => parseReleaseArgs({ bridge: 'abcdefghijklmnop' }), ['abcdefghijklmnop']],
    ['release: unknown key', () => parseReleaseArgs({ bridge: 'xapi1', addresses: '10.0.0.2/24' }), ['addresses']],
    ['release: bad boolean', () => parseReleaseArgs({ bridge: 'xapi1', 'dry-run': 'yes' }), ['yes']],
    ['status: bad bridge', () => parseStatusArgs({ bridge: '../x' }), ['../x']],
    ['status: backticks', () => parseStatusArgs({ bridge: '`id`' }), ['`id`']],
    ['status: unknown key', () => parseStatusArgs({ bridges: 'xapi1' }), ['bridges']],
    ['version: any argument', () => parseNoArgs('version', { verbose: 'true' }), ['verbose', 'version']],
  ]
  for (const [name, run, named] of corpus) {
    test(name, () => assertInvalid(run, ...named))
  }
})
