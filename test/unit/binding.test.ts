import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type BindingConfig,
  POOL_CONFIG_VERSION,
  applyArgsFor,
  decodePoolConfig,
  encodePoolConfig,
  parseBinding,
  parsePluginConfig,
  toPoolBinding,
} from '../../shared/binding.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { parseApplyArgs } from '../../shared/plugin-args.ts'

const VM = '0d6b9e3c-8f1a-4c55-9d0e-2a4b6c8d0e1f'
const NET = '5e2a7c1d-3b4f-4e6a-8c9d-0f1e2d3c4b5a'

const base: BindingConfig = {
  vm: VM,
  network: 'dom0-firewall',
  addresses: ['192.168.1.2/24'],
  gateways: ['192.168.1.1'],
}

function rejects(config: BindingConfig | Record<string, unknown>, pattern: RegExp) {
  assert.throws(
    () => parsePluginConfig({ bindings: [config as BindingConfig] }),
    (error: unknown) =>
      error instanceof BinderError && error.code === ErrorCode.INVALID_ARGUMENT && pattern.test(error.message),
  )
}

describe('parseBinding', () => {
  it('parses a typical firewall binding into canonical values', () => {
    const b = parseBinding(
      {
        ...base,
        addresses: ['192.168.1.2/24', '2001:DB8::2/64'],
        gateways: ['192.168.1.1', '2001:db8::1'],
        routes: ['10.0.0.0/8=192.168.1.1', '192.168.50.0/24'],
        managementAddress: '192.168.1.2',
        proxyArp: true,
      },
      0,
    )
    assert.deepEqual(
      b.addresses.map(a => `${a.address}/${a.prefix}`),
      ['192.168.1.2/24', '2001:db8::2/64'],
    )
    assert.deepEqual(
      b.gateways.map(g => g.address),
      ['192.168.1.1', '2001:db8::1'],
    )
    assert.equal(b.routes[0]!.via, '192.168.1.1')
    assert.equal(b.routes[1]!.via, undefined)
    assert.deepEqual(b.managementAddress, { address: '192.168.1.2', family: 4 })
    assert.equal(b.proxyArp, true)
    assert.equal(b.forwarding, false)
  })

  it('names the binding and the bad value for a malformed CIDR', () => {
    rejects(
      { ...base, addresses: ['192.168.1.300/24'] },
      /^binding 1 \(VM ".+", network "dom0-firewall"\): addresses: "192\.168\.1\.300(\/24)?"/,
    )
    rejects({ ...base, addresses: ['192.168.1.2'] }, /addresses: "192\.168\.1\.2" needs a prefix length/)
  })

  it('refuses a gateway outside every address prefix, with the field name the admin sees', () => {
    rejects(
      { ...base, gateways: ['10.9.9.9'] },
      /binding 1 .*: gateways: "10\.9\.9\.9" is outside every bound prefix \(192\.168\.1\.2\/24\)/,
    )
  })

  it('refuses two gateways of one family', () => {
    rejects(
      { ...base, addresses: ['192.168.1.2/24'], gateways: ['192.168.1.1', '192.168.1.254'] },
      /more than one IPv4 gateway/,
    )
  })

  it('refuses an item holding a comma, which the host would split', () => {
    rejects({ ...base, addresses: ['192.168.1.2/24,192.168.1.3/24'] }, /holds a comma/)
  })

  it('needs at least one address', () => {
    rejects({ ...base, addresses: [] }, /addresses needs at least one address/)
  })

  it('refuses malformed routes and management addresses by name', () => {
    rejects({ ...base, routes: ['10.0.0.1/8=192.168.1.1'] }, /routes: "10\.0\.0\.1\/8" has host bits set/)
    rejects({ ...base, managementAddress: 'host1' }, /managementAddress: "host1" is not an IP address/)
  })

  it('checks SR entries as the host plugin will read them', () => {
    rejects({ ...base, srs: [{ sr: '' }] }, /srs item 1 needs an SR/)
    rejects({ ...base, srs: [{ sr: 'nfs-sr' }] }, /srs item 1: srs: "nfs-sr" is not a UUID/)
    rejects({ ...base, srs: [{ sr: NET, probe: 'ping 10.0.0.1' }] }, /srs item 1: probe: "ping 10\.0\.0\.1"/)
    rejects({ ...base, srs: [{ sr: NET }, { sr: NET.toUpperCase() }] }, /SR 5e2a7c1d-.* is listed twice/)
    const b = parseBinding({ ...base, srs: [{ sr: NET.toUpperCase(), probe: 'tcp:10.78.0.10:2049' }, { sr: VM }] }, 0)
    assert.deepEqual(b.srs, [{ sr: NET, probe: 'tcp:10.78.0.10:2049' }, { sr: VM }])
  })
})

describe('parsePluginConfig', () => {
  it('refuses an address claimed by two bindings, naming both', () => {
    assert.throws(
      () => parsePluginConfig({ bindings: [base, { ...base, vm: 'other-vm', gateways: [] }] }),
      /binding 2 .*: address 192\.168\.1\.2\/24 is already claimed by binding 1/,
    )
  })

  it('refuses the same (VM, network) twice', () => {
    assert.throws(
      () => parsePluginConfig({ bindings: [base, { ...base, addresses: ['192.168.1.3/24'] }] }),
      /binding 2 .*: this VM and network are already bound by binding 1/,
    )
  })

  it('checks gatewayCheckSeconds', () => {
    assert.equal(parsePluginConfig({ bindings: [base] }).gatewayCheckSeconds, 10)
    assert.equal(parsePluginConfig({ bindings: [base], gatewayCheckSeconds: 0 }).gatewayCheckSeconds, 0)
    assert.throws(() => parsePluginConfig({ bindings: [base], gatewayCheckSeconds: 301 }), /gatewayCheckSeconds: 301/)
    assert.throws(() => parsePluginConfig({ bindings: [base], gatewayCheckSeconds: 2.5 }), /gatewayCheckSeconds: 2\.5/)
  })
})

describe('applyArgsFor', () => {
  it('builds arguments the host plugin parses back to the same binding', () => {
    const b = parseBinding(
      { ...base, routes: ['10.0.0.0/8=192.168.1.1'], managementAddress: '192.168.1.2', forwarding: true },
      0,
    )
    const args = applyArgsFor(b, 'xapi1', 'xenbr0', 10)
    assert.deepEqual(args, {
      bridge: 'xapi1',
      addresses: '192.168.1.2/24',
      gateway: '192.168.1.1',
      routes: '10.0.0.0/8=192.168.1.1',
      'management-address': '192.168.1.2',
      'management-bridge': 'xenbr0',
      forwarding: 'true',
    })
    const request = parseApplyArgs(args)
    assert.deepEqual(request.addresses, b.addresses)
    assert.deepEqual(request.management, { address: '192.168.1.2', family: 4, bridge: 'xenbr0' })
  })

  it('leaves the mirror out without a management bridge, and passes a non-default gateway check', () => {
    const b = parseBinding({ ...base, managementAddress: '192.168.1.2' }, 0)
    const args = applyArgsFor(b, 'xapi1', undefined, 3)
    assert.equal(args['management-address'], undefined)
    assert.equal(args['management-bridge'], undefined)
    assert.equal(args['gateway-check'], '3')
  })
})

describe('pool form', () => {
  it('round-trips through pool.other_config text with the network as a UUID', () => {
    const b = parseBinding(
      { ...base, addresses: ['2001:DB8::2/64', '192.168.1.2/24'], srs: [{ sr: VM, probe: 'icmp:192.168.1.10' }] },
      0,
    )
    const text = encodePoolConfig({
      version: POOL_CONFIG_VERSION,
      gatewayCheckSeconds: 7,
      rescue: true,
      bindings: [toPoolBinding(b, VM, NET)],
    })
    const json = JSON.parse(text)
    assert.equal(json.version, 1)
    assert.equal(json.rescue, true)
    assert.equal(json.bindings[0].network, NET)
    assert.deepEqual(json.bindings[0].addresses, ['2001:db8::2/64', '192.168.1.2/24'])
    const decoded = decodePoolConfig(text)
    assert.equal(decoded.config.gatewayCheckSeconds, 7)
    assert.equal(decoded.config.rescue, true)
    assert.deepEqual(decoded.bindings[0]!.addresses, b.addresses)
    assert.equal(encodePoolConfig(decoded.config), text)
  })

  it('auto-start is on unless the pool form says false', () => {
    const bindings = [toPoolBinding(parseBinding(base, 0), VM, NET)]
    const on = encodePoolConfig({ version: 1, gatewayCheckSeconds: 10, rescue: false, bindings })
    assert.equal(JSON.parse(on).autoStart, undefined, 'the default is not written')
    assert.notEqual(decodePoolConfig(on).config.autoStart, false)
    const off = encodePoolConfig({ version: 1, gatewayCheckSeconds: 10, rescue: false, autoStart: false, bindings })
    assert.equal(decodePoolConfig(off).config.autoStart, false)
    assert.equal(encodePoolConfig(decodePoolConfig(off).config), off)
    assert.throws(() => decodePoolConfig(off.replace('"autoStart":false', '"autoStart":"no"')), /autoStart: "no"/)
  })

  it('refuses unknown versions, non-UUID references and bad values by name', () => {
    const b = parseBinding(base, 0)
    const good = JSON.parse(
      encodePoolConfig({ version: 1, gatewayCheckSeconds: 10, rescue: false, bindings: [toPoolBinding(b, VM, NET)] }),
    )
    const { rescue: _, ...withoutRescue } = good
    assert.equal(decodePoolConfig(JSON.stringify(withoutRescue)).config.rescue, false, 'rescue is off unless written')
    assert.throws(
      () => decodePoolConfig(JSON.stringify({ ...good, rescue: 'yes' })),
      /rescue: "yes" is not true or false/,
    )
    assert.throws(() => decodePoolConfig(JSON.stringify({ ...good, version: 2 })), /version 2 is not 1/)
    assert.throws(
      () =>
        decodePoolConfig(JSON.stringify({ ...good, bindings: [{ ...good.bindings[0], network: 'dom0-firewall' }] })),
      /network "dom0-firewall" is not a UUID/,
    )
    assert.throws(
      () => decodePoolConfig(JSON.stringify({ ...good, bindings: [{ ...good.bindings[0], addresses: ['x/24'] }] })),
      /addresses: "x(\/24)?"/,
    )
    assert.throws(() => decodePoolConfig('{'), /not JSON/)
  })
})
