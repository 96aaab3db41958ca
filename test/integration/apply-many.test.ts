// apply-many against a real kernel with several bridges: the bridges share one kernel read
// and one `ip -batch` per stage, yet each ends exactly as its own apply would leave it. A
// bridge that fails is undone alone, the others keep what they got, and a bridge whose
// plan depends on another's changes is planned after them. The extra bridges are Linux
// bridges on either topology: what is tested here is the plugin's bookkeeping across
// bridges; apply-release.test.ts covers both kinds of bridge.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode } from '../../shared/errors.ts'
import { callOk, callPlugin } from '../helpers/host-plugin.ts'
import { createBridge, runIn } from '../helpers/netns.ts'
import { DOM0_4, DOM0_6, FW4, FW6, PREVIOUS4, PREVIOUS6 } from './topology.ts'
import { addressesOf, defaultRoutes, kernelSnapshot, ping, readSysctl, withTopology } from './topology.ts'

interface ManyValue {
  results: {
    ok: boolean
    bridge: string
    errorDescription?: string[]
    changes?: { action: string }[]
    gatewayChecks?: { family: number; reachable: boolean }[]
  }[]
}

interface StatusValue {
  bridges: Record<string, { inSync: boolean }>
}

const many = (dom0: string, root: string, requests: Record<string, string>[]) =>
  callOk<ManyValue>(dom0, root, 'apply-many', { requests: JSON.stringify(requests) })

test('a silent gateway keeps its own default route; the bridge asked beside it switches', () =>
  withTopology(async ({ dom0, root }) => {
    await createBridge(dom0, 'xapi2')
    const answer = await many(dom0, root, [
      { bridge: 'xapi1', addresses: `${DOM0_4},${DOM0_6}`, gateway: FW6, 'gateway-check': '10' },
      { bridge: 'xapi2', addresses: '198.18.0.2/24', gateway: '198.18.0.1', 'gateway-check': '2' },
    ])
    assert.deepEqual(
      answer.results.map(r => [r.bridge, r.ok, r.errorDescription?.[0]]),
      [
        ['xapi1', true, undefined],
        ['xapi2', false, ErrorCode.GATEWAY_UNREACHABLE],
      ],
    )
    assert.deepEqual(
      answer.results[0]!.gatewayChecks?.map(c => [c.family, c.reachable]),
      [[6, true]],
    )
    assert.deepEqual(await defaultRoutes(dom0, 6), [
      { dst: 'default', gateway: FW6, dev: 'xapi1', metric: PREVIOUS6.metric },
    ])
    assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }], 'IPv4 never switched')
    assert.equal(await ping(dom0, FW6), true)
    assert.deepEqual(await addressesOf(dom0, 'xapi2'), ['198.18.0.2/24'], 'the silent bridge keeps its address')

    // What each bridge owns is what it got: releasing the silent one gives back its address only.
    await callOk(dom0, root, 'release', { bridge: 'xapi2' })
    assert.deepEqual(await addressesOf(dom0, 'xapi2'), [])
    assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
    const status = await callOk<StatusValue>(dom0, root, 'status', { 'firewall-vifs': 'false' })
    assert.deepEqual(Object.keys(status.bridges), ['xapi1'])
    assert.equal(status.bridges.xapi1!.inSync, true)
  }))

test('a step that fails in the shared batch undoes its bridge alone; the bridges before and after it stay', () =>
  withTopology(async ({ dom0, root }) => {
    await createBridge(dom0, 'xapi2')
    await createBridge(dom0, 'xapi3')
    // The kernel refuses an IPv6 address on xapi2, after xapi2's IPv4 address and sysctl went in.
    const disabled = await runIn(dom0, 'sysctl', ['-q', '-w', 'net.ipv6.conf.xapi2.disable_ipv6=1'])
    assert.equal(disabled.exitCode, 0, disabled.stderr)
    const promote = 'net.ipv4.conf.xapi2.promote_secondaries'
    const promoteBefore = await readSysctl(dom0, promote)
    const before = await kernelSnapshot(dom0)
    const answer = await many(dom0, root, [
      { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4, 'gateway-check': '0' },
      { bridge: 'xapi2', addresses: '198.18.0.2/24,2001:db8:18::2/64', 'gateway-check': '0' },
      { bridge: 'xapi3', addresses: '198.19.0.2/24', 'gateway-check': '0' },
    ])
    assert.deepEqual(
      answer.results.map(r => [r.bridge, r.ok, r.errorDescription?.[0]]),
      [
        ['xapi1', true, undefined],
        ['xapi2', false, ErrorCode.COMMAND_FAILED],
        ['xapi3', true, undefined],
      ],
    )
    assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_4])
    assert.deepEqual(await defaultRoutes(dom0, 4), [
      { dst: 'default', gateway: FW4, dev: 'xapi1', metric: PREVIOUS4.metric },
    ])
    assert.deepEqual(await addressesOf(dom0, 'xapi2'), [], 'what xapi2 added is taken back')
    assert.equal(await readSysctl(dom0, promote), promoteBefore, 'and its sysctl given back')
    assert.deepEqual(await addressesOf(dom0, 'xapi3'), ['198.19.0.2/24'])
    const status = await callOk<StatusValue>(dom0, root, 'status', { 'firewall-vifs': 'false' })
    assert.deepEqual(Object.keys(status.bridges).sort(), ['xapi1', 'xapi3'])

    await callOk(dom0, root, 'release', { bridge: 'xapi1' })
    await callOk(dom0, root, 'release', { bridge: 'xapi3' })
    assert.deepEqual(await kernelSnapshot(dom0), before, 'each release gives back exactly what its bridge got')
  }))

test('a route to the subnet another bridge of the call brings is refused as its own apply would refuse it', () =>
  withTopology(async ({ dom0, root }) => {
    await createBridge(dom0, 'xapi2')
    await createBridge(dom0, 'xapi3')
    const answer = await many(dom0, root, [
      { bridge: 'xapi2', addresses: '198.18.0.2/24', 'gateway-check': '0' },
      { bridge: 'xapi3', addresses: '198.19.0.2/24', routes: '198.18.0.0/24=198.19.0.1', 'gateway-check': '0' },
    ])
    // Planned after xapi2's address brought its prefix route: a route xapi3 does not own.
    assert.deepEqual(
      answer.results.map(r => [r.bridge, r.ok, r.errorDescription?.[0]]),
      [
        ['xapi2', true, undefined],
        ['xapi3', false, ErrorCode.CONFLICT],
      ],
    )
    assert.deepEqual(await addressesOf(dom0, 'xapi2'), ['198.18.0.2/24'])
    assert.deepEqual(await addressesOf(dom0, 'xapi3'), [], 'a refused plan changes nothing')
  }))

test('refuse-changes binds a new bridge, re-applies a held one, and leaves a bridge holding other arguments as it is', () =>
  withTopology(async ({ dom0, root }) => {
    await createBridge(dom0, 'xapi2')
    await createBridge(dom0, 'xapi3')
    const xapi1 = { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4, 'gateway-check': '0' }
    const xapi2 = { bridge: 'xapi2', addresses: '198.18.0.2/24', 'gateway-check': '0' }
    await many(dom0, root, [xapi1, xapi2])
    const before = await kernelSnapshot(dom0)
    // Xen Orchestra, not knowing what the host holds: xapi1 the same, xapi2 another address, xapi3 new.
    const xapi3 = { bridge: 'xapi3', addresses: '198.19.0.2/24', 'gateway-check': '0' }
    const asked = [xapi1, { ...xapi2, addresses: '198.18.0.9/24' }, xapi3]
    const answer = await callOk<ManyValue & { holds: Record<string, Record<string, string>> }>(
      dom0,
      root,
      'apply-many',
      { requests: JSON.stringify(asked), 'refuse-changes': 'true' },
    )
    assert.deepEqual(
      answer.results.map(r => [r.bridge, r.ok, r.changes?.length, r.errorDescription?.[0]]),
      [
        ['xapi1', true, 0, undefined],
        ['xapi2', false, undefined, ErrorCode.NEEDS_CONFIRMATION],
        ['xapi3', true, 2, undefined],
      ],
    )
    const [, message, bridge, reason, held] = answer.results[1]!.errorDescription!
    assert.match(message!, /bridge xapi2 holds other arguments: apply it with confirm=N/)
    assert.deepEqual([bridge, reason, JSON.parse(held!).addresses], ['xapi2', 'changed', '198.18.0.2/24'])
    assert.deepEqual(await addressesOf(dom0, 'xapi2'), ['198.18.0.2/24'], 'the refused bridge is untouched')
    assert.deepEqual(await addressesOf(dom0, 'xapi3'), ['198.19.0.2/24'])
    const notXapi3 = (routes: unknown[]) => routes.filter(r => (r as { dev?: string }).dev !== 'xapi3')
    assert.deepEqual(notXapi3((await kernelSnapshot(dom0)).routes4), before.routes4, 'only xapi3 got routes')
    // The answer tells every bridge the host holds, as recorded, so no status call is needed.
    assert.deepEqual(Object.fromEntries(Object.entries(answer.holds).map(([b, args]) => [b, args.addresses])), {
      xapi1: DOM0_4,
      xapi2: '198.18.0.2/24',
      xapi3: '198.19.0.2/24',
    })
  }))

test('refuse-changes takes true or false, and never beside confirm: nothing is changed', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await kernelSnapshot(dom0)
    const requests = JSON.stringify([{ bridge: 'xapi1', addresses: DOM0_4, 'gateway-check': '0' }])
    for (const [args, value] of [
      [{ 'refuse-changes': 'yes' }, 'yes'],
      [{ 'refuse-changes': 'true', confirm: '30' }, 'refuse-changes'],
    ] as const) {
      const reply = await callPlugin(dom0, root, 'apply-many', { requests, ...args })
      assert.equal(reply.status, 'Failure')
      assert.equal(reply.errorDescription?.[0], ErrorCode.INVALID_ARGUMENT)
      assert.ok(reply.errorDescription?.includes(value), JSON.stringify(reply.errorDescription))
    }
    assert.deepEqual(await kernelSnapshot(dom0), before)
  }))
