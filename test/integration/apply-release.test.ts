// The host plugin against a real kernel: every assertion reads `ip -j` output, sysctls or
// the result of a real ping from the namespace playing dom0.

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { callOk, callPlugin } from '../helpers/host-plugin.ts'
import { BRIDGE_KINDS, BRIDGE_LABELS } from '../helpers/bridges.ts'
import { KernelWatch } from '../helpers/kernel-watch.ts'
import { ip } from '../helpers/netns.ts'
import {
  DOM0_4,
  DOM0_6,
  FULL_APPLY,
  FW4,
  FW6,
  PREVIOUS4,
  PREVIOUS6,
  STORAGE,
  type Topology,
  addressesOf,
  bridgeDeviceKind,
  createBridgeAgain,
  defaultRoutes,
  destroyBridge,
  kernelSnapshot,
  ping,
  readSysctl,
  withTopology as withTopologyOf,
} from './topology.ts'

interface ApplyValue {
  changes: { action: string }[]
  unchanged: unknown[]
  gatewayChecks: { family: number; reachable: boolean }[]
}

for (const kind of BRIDGE_KINDS) {
  // Every case on both kinds of bridge XCP-ng uses (Open vSwitch is its default).
  const withTopology = (body: (topology: Topology) => Promise<void>) => withTopologyOf(body, kind)

  describe(`apply on ${BRIDGE_LABELS[kind]}`, () => {
    test('binds addresses, mirror, routes, sysctls and both default routes; dom0 reaches the firewall and beyond', () =>
      withTopology(async ({ dom0, root, bridges }) => {
        assert.equal(await bridgeDeviceKind(dom0, 'xapi1'), kind === 'ovs' ? 'tun' : 'bridge')
        assert.deepEqual(await bridges!.ports('xapi1'), ['vif1.0'], 'the VIF is a port of the bridge')
        assert.equal(await ping(dom0, FW4), false, 'dom0 must not reach the firewall before apply')

        const value = await callOk<ApplyValue>(dom0, root, 'apply', FULL_APPLY)

        assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_6, DOM0_4].sort())
        assert.deepEqual(
          await addressesOf(dom0, 'xenbr0'),
          ['192.0.2.2/32', '2001:db8:ff::2/64', '203.0.113.2/24'].sort(),
        )
        // Same metric slot as the route in use: one replace, not a second default route.
        assert.deepEqual(await defaultRoutes(dom0, 4), [
          { dst: 'default', gateway: FW4, dev: 'xapi1', metric: PREVIOUS4.metric },
        ])
        assert.deepEqual(await defaultRoutes(dom0, 6), [
          { dst: 'default', gateway: FW6, dev: 'xapi1', metric: PREVIOUS6.metric },
        ])
        const routes = await ip(dom0, '-4', 'route', 'show')
        assert.match(routes, /^192\.0\.2\.200 dev xapi1 /m)
        assert.match(routes, /^198\.51\.100\.0\/24 via 192\.0\.2\.1 dev xapi1/m)
        assert.equal(await readSysctl(dom0, 'net.ipv4.conf.xapi1.proxy_arp'), '1')
        assert.equal(await readSysctl(dom0, 'net.ipv4.conf.xapi1.forwarding'), '1')
        assert.equal(await readSysctl(dom0, 'net.ipv6.conf.xapi1.forwarding'), '1')

        assert.deepEqual(value.gatewayChecks.map(c => [c.family, c.reachable]).sort(), [
          [4, true],
          [6, true],
        ])
        assert.ok(value.changes.some(c => c.action === 'switch-default-route'))
        assert.equal(await ping(dom0, FW4), true, 'firewall over IPv4')
        assert.equal(await ping(dom0, FW6), true, 'firewall over IPv6')
        assert.equal(await ping(dom0, STORAGE), true, 'storage server behind the firewall')
      }))

    test('a second apply changes nothing, in its answer and in the kernel', () =>
      withTopology(async ({ dom0, root }) => {
        await callOk(dom0, root, 'apply', FULL_APPLY)
        const before = await kernelSnapshot(dom0)
        const again = await callOk<ApplyValue>(dom0, root, 'apply', FULL_APPLY)
        assert.deepEqual(again.changes, [])
        assert.ok(again.unchanged.length >= 8, `unchanged lists what is in place: ${JSON.stringify(again.unchanged)}`)
        assert.deepEqual(again.gatewayChecks, [])
        assert.deepEqual(await kernelSnapshot(dom0), before)
      }))

    test('apply-many binds each bridge as its own apply would, and one missing bridge fails alone', () =>
      withTopology(async ({ dom0, root }) => {
        const requests = [{ ...FULL_APPLY }, { bridge: 'nosuch0', addresses: '198.18.0.2/24' }]
        const many = await callOk<{ results: (ApplyValue & { ok: boolean; errorDescription?: string[] })[] }>(
          dom0,
          root,
          'apply-many',
          { requests: JSON.stringify(requests) },
        )
        assert.deepEqual(
          many.results.map(r => r.ok),
          [true, false],
        )
        assert.equal(many.results[1]!.errorDescription?.[0], 'VIF_IP_BINDER_NO_SUCH_DEVICE')
        assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_6, DOM0_4].sort())
        assert.deepEqual(await defaultRoutes(dom0, 4), [
          { dst: 'default', gateway: FW4, dev: 'xapi1', metric: PREVIOUS4.metric },
        ])
        const before = await kernelSnapshot(dom0)
        const again = await callOk<ApplyValue>(dom0, root, 'apply', FULL_APPLY)
        assert.deepEqual(again.changes, [], 'what apply-many did is what apply wants')
        assert.deepEqual(await kernelSnapshot(dom0), before)
      }))

    test('dry-run returns the plan and changes nothing', () =>
      withTopology(async ({ dom0, root }) => {
        const before = await kernelSnapshot(dom0)
        const value = await callOk<ApplyValue & { dryRun: boolean }>(dom0, root, 'apply', {
          ...FULL_APPLY,
          'dry-run': 'true',
        })
        assert.equal(value.dryRun, true)
        assert.deepEqual(
          value.changes.map(c => c.action).sort(),
          [
            ...['add-address', 'add-address', 'add-address', 'add-route', 'add-route'],
            ...['set-sysctl', 'set-sysctl', 'set-sysctl', 'set-sysctl', 'switch-default-route', 'switch-default-route'],
          ].sort(),
        )
        assert.deepEqual(await kernelSnapshot(dom0), before)
      }))

    test('an unreachable gateway never gets the default route; the addresses stay', () =>
      withTopology(async ({ dom0, root }) => {
        const watch = new KernelWatch(dom0)
        try {
          await watch.ready()
          const reply = await callPlugin(dom0, root, 'apply', {
            bridge: 'xapi1',
            addresses: DOM0_4,
            gateway: '192.0.2.254',
            'gateway-check': '2',
          })
          assert.equal(reply.status, 'Failure')
          assert.equal(reply.status === 'Failure' && reply.errorDescription[0], 'VIF_IP_BINDER_GATEWAY_UNREACHABLE')
          assert.match(
            reply.status === 'Failure' ? reply.errorDescription[1]! : '',
            /192\.0\.2\.254.*the default route was left as it was/,
          )
          await watch.when(new RegExp(DOM0_4.replace('/', '\\/').replace(/\./g, '\\.')))
          assert.deepEqual(watch.lines(/^(Deleted )?default /), [], 'the default route never changed')
        } finally {
          watch.stop()
        }
        assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
        assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_4])
        assert.equal(await ping(dom0, FW4), true, 'the bound address still reaches the firewall on-link')

        // What stayed is owned: release takes it away again.
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
        assert.deepEqual(await addressesOf(dom0, 'xapi1'), [])
      }))

    test('an unreachable gateway on a recreated bridge falls back to the route from before the first apply', () =>
      withTopology(async topology => {
        const { dom0, fw, root } = topology
        await callOk(dom0, root, 'apply', { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4 })
        await destroyBridge(topology)
        assert.deepEqual(await defaultRoutes(dom0, 4), [], 'our route went with the bridge')
        // The firewall VM starts again, but is not forwarding yet.
        await createBridgeAgain(topology)
        await ip(fw, 'link', 'set', 'eth0', 'down')
        const reply = await callPlugin(dom0, root, 'apply', {
          bridge: 'xapi1',
          addresses: DOM0_4,
          gateway: FW4,
          'gateway-check': '2',
        })
        assert.equal(reply.status === 'Failure' && reply.errorDescription[0], 'VIF_IP_BINDER_GATEWAY_UNREACHABLE')
        assert.deepEqual(
          await defaultRoutes(dom0, 4),
          [{ dst: 'default', ...PREVIOUS4 }],
          'a way out, as the error says',
        )

        await ip(fw, 'link', 'set', 'eth0', 'up')
        await callOk(dom0, root, 'apply', { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4 })
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
        assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
      }))

    test('into an empty slot the default route goes in with the addresses; a silent gateway takes it out, and the retry waits for an answer', () =>
      withTopology(async ({ dom0, fw, root }) => {
        await ip(dom0, 'route', 'del', 'default')
        await ip(fw, 'link', 'set', 'eth0', 'down')
        const watch = new KernelWatch(dom0)
        const changes = () =>
          watch
            .lines(new RegExp(`^(Deleted )?default |inet ${DOM0_4.replace(/\./g, '\\.')}`))
            .map(line => (line.includes('inet') ? 'address' : line.startsWith('Deleted') ? 'route gone' : 'route'))
        try {
          await watch.ready()
          const args = { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4, 'gateway-check': '1' }
          for (const attempt of ['first', 'retry']) {
            const reply = await callPlugin(dom0, root, 'apply', args)
            assert.equal(reply.status === 'Failure' && reply.errorDescription[0], 'VIF_IP_BINDER_GATEWAY_UNREACHABLE')
            assert.deepEqual(await defaultRoutes(dom0, 4), [], `${attempt}: the slot as it was, empty`)
          }
          // The retry found a record with no default route (a failed check's): it waited.
          assert.deepEqual(changes(), ['address', 'route', 'route gone'])
          assert.ok(watch.lines(/^default /)[0]!.includes(`via ${FW4} dev xapi1`))

          await ip(fw, 'link', 'set', 'eth0', 'up')
          await callOk(dom0, root, 'apply', { ...args, 'gateway-check': '10' })
          assert.deepEqual(changes(), ['address', 'route', 'route gone', 'route'])
          assert.deepEqual(
            (await defaultRoutes(dom0, 4)).map(r => `${r.gateway} ${r.dev}`),
            [`${FW4} xapi1`],
          )
        } finally {
          watch.stop()
        }
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
        assert.deepEqual(await defaultRoutes(dom0, 4), [], 'release leaves the slot empty, as it found it')
      }))

    test('with a default route of another metric in place, a silent gateway gets none: ours would shadow it', () =>
      withTopology(async ({ dom0, fw, root }) => {
        const args = { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4, 'gateway-check': '5' }
        await callOk(dom0, root, 'apply', args)
        // Our route gone with its bridge, and another way out in another slot meanwhile.
        await ip(dom0, 'route', 'del', 'default', 'via', FW4, 'dev', 'xapi1')
        const backup = { gateway: PREVIOUS4.gateway, dev: PREVIOUS4.dev, metric: PREVIOUS4.metric + 100 }
        const backupRoute = ['default', 'via', backup.gateway, 'dev', backup.dev, 'metric', String(backup.metric)]
        await ip(dom0, 'route', 'add', ...backupRoute)
        await ip(fw, 'link', 'set', 'eth0', 'down')
        const watch = new KernelWatch(dom0)
        try {
          await watch.ready()
          const reply = await callPlugin(dom0, root, 'apply', { ...args, 'gateway-check': '1' })
          assert.equal(reply.status === 'Failure' && reply.errorDescription[0], 'VIF_IP_BINDER_GATEWAY_UNREACHABLE')
          assert.deepEqual(watch.lines(new RegExp(`^default via ${FW4.replace(/\./g, '\\.')}`)), [], 'never switched')
          assert.ok(
            (await defaultRoutes(dom0, 4)).some(r => r.gateway === backup.gateway && r.metric === backup.metric),
            'the other way out is still there',
          )
        } finally {
          watch.stop()
        }
        await ip(fw, 'link', 'set', 'eth0', 'up')
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
      }))

    test('an IPv6 address can change its prefix length', () =>
      withTopology(async ({ dom0, root }) => {
        await callOk(dom0, root, 'apply', { bridge: 'xapi1', addresses: DOM0_6, gateway: FW6 })
        await callOk(dom0, root, 'apply', { bridge: 'xapi1', addresses: '2001:db8:77::2/56', gateway: FW6 })
        assert.deepEqual(await addressesOf(dom0, 'xapi1'), ['2001:db8:77::2/56'])
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
        assert.deepEqual(await addressesOf(dom0, 'xapi1'), [])
        assert.deepEqual(await defaultRoutes(dom0, 6), [{ dst: 'default', ...PREVIOUS6 }])
      }))

    test('changing the request converges: new items added, dropped ones removed, first previous route kept', () =>
      withTopology(async ({ dom0, root }) => {
        await callOk(dom0, root, 'apply', FULL_APPLY)
        await callOk(dom0, root, 'apply', { bridge: 'xapi1', addresses: '192.0.2.3/24', gateway: FW4 })
        assert.deepEqual(await addressesOf(dom0, 'xapi1'), ['192.0.2.3/24'])
        assert.deepEqual(await addressesOf(dom0, 'xenbr0'), ['2001:db8:ff::2/64', '203.0.113.2/24'])
        assert.deepEqual(
          await defaultRoutes(dom0, 6),
          [{ dst: 'default', ...PREVIOUS6 }],
          'IPv6 gateway dropped: previous restored',
        )
        assert.equal(await readSysctl(dom0, 'net.ipv4.conf.xapi1.proxy_arp'), '0')
        assert.doesNotMatch(await ip(dom0, '-4', 'route', 'show'), /192\.0\.2\.200|198\.51\.100/)
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
        assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
      }))
  })

  describe(`release on ${BRIDGE_LABELS[kind]}`, () => {
    test('restores the previous default routes and sysctls, removes what apply added, keeps a foreign address', () =>
      withTopology(async ({ dom0, root }) => {
        await ip(dom0, 'addr', 'add', '192.0.2.99/24', 'dev', 'xapi1')
        await callOk(dom0, root, 'apply', FULL_APPLY)
        const value = await callOk<{ released: boolean }>(dom0, root, 'release', { bridge: 'xapi1' })
        assert.equal(value.released, true)
        assert.deepEqual(await addressesOf(dom0, 'xapi1'), ['192.0.2.99/24'])
        assert.deepEqual(await addressesOf(dom0, 'xenbr0'), ['2001:db8:ff::2/64', '203.0.113.2/24'])
        assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
        assert.deepEqual(await defaultRoutes(dom0, 6), [{ dst: 'default', ...PREVIOUS6 }])
        assert.equal(await readSysctl(dom0, 'net.ipv4.conf.xapi1.proxy_arp'), '0')
        assert.equal(await readSysctl(dom0, 'net.ipv4.conf.xapi1.forwarding'), '0')
        assert.equal(await readSysctl(dom0, 'net.ipv4.conf.xapi1.promote_secondaries'), '0')
        assert.doesNotMatch(await ip(dom0, '-4', 'route', 'show'), /192\.0\.2\.200|198\.51\.100/)

        const again = await callOk<{ released: boolean; changes: unknown[] }>(dom0, root, 'release', {
          bridge: 'xapi1',
        })
        assert.deepEqual([again.released, again.changes], [false, []], 'releasing twice is a no-op success')
      }))

    test('restores a default route through the management bridge even when the mirror was its last IPv4 address', () =>
      withTopology(async ({ dom0, root }) => {
        // dom0 with no network of its own: no IPv4 address on xenbr0, a device default route.
        await ip(dom0, 'addr', 'del', '203.0.113.2/24', 'dev', 'xenbr0')
        await ip(dom0, 'route', 'replace', 'default', 'dev', 'xenbr0', 'metric', '100')
        await callOk(dom0, root, 'apply', { ...FULL_APPLY, gateway: FW4 })
        assert.deepEqual(await addressesOf(dom0, 'xenbr0'), ['192.0.2.2/32', '2001:db8:ff::2/64'])
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
        assert.deepEqual(await defaultRoutes(dom0, 4), [
          { dst: 'default', gateway: undefined, dev: 'xenbr0', metric: 100 },
        ])
        assert.deepEqual(await addressesOf(dom0, 'xenbr0'), ['2001:db8:ff::2/64'])
      }))

    test('keeps a default route somebody else set after apply', () =>
      withTopology(async ({ dom0, root }) => {
        await callOk(dom0, root, 'apply', { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4 })
        await ip(dom0, 'route', 'replace', 'default', 'via', '203.0.113.254', 'dev', 'xenbr0', 'metric', '100')
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
        assert.deepEqual(await defaultRoutes(dom0, 4), [
          { dst: 'default', gateway: '203.0.113.254', dev: 'xenbr0', metric: 100 },
        ])
        assert.deepEqual(await addressesOf(dom0, 'xapi1'), [])
      }))

    test('works after the bridge vanished with its VIF, and apply on a recreated bridge keeps the original previous route', () =>
      withTopology(async topology => {
        const { dom0, root } = topology
        await callOk(dom0, root, 'apply', FULL_APPLY)
        await destroyBridge(topology)
        assert.deepEqual(await defaultRoutes(dom0, 4), [], 'the kernel dropped our default route with the bridge')

        await createBridgeAgain(topology)
        await callOk(dom0, root, 'apply', FULL_APPLY)
        assert.deepEqual(await defaultRoutes(dom0, 4), [
          { dst: 'default', gateway: FW4, dev: 'xapi1', metric: PREVIOUS4.metric },
        ])
        assert.equal(await ping(dom0, FW4), true)

        await destroyBridge(topology)
        await callOk(dom0, root, 'release', { bridge: 'xapi1' })
        assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
        assert.deepEqual(await defaultRoutes(dom0, 6), [{ dst: 'default', ...PREVIOUS6 }])
        assert.deepEqual(await addressesOf(dom0, 'xenbr0'), ['2001:db8:ff::2/64', '203.0.113.2/24'], 'mirror removed')
        const status = await callOk<{ bridges: Record<string, unknown> }>(dom0, root, 'status', {})
        assert.deepEqual(status.bridges, {}, 'record forgotten')
      }))
  })

  describe(`status on ${BRIDGE_LABELS[kind]}`, () => {
    test('reports the recorded state, the kernel state and the drift between them', () =>
      withTopology(async ({ dom0, root }) => {
        await callOk(dom0, root, 'apply', { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4 })
        type Status = {
          bridges: Record<
            string,
            { inSync: boolean; drift: { action: string; cidr?: string }[]; kernel: { addresses: string[] } }
          >
        }
        const clean = await callOk<Status>(dom0, root, 'status', { bridge: 'xapi1' })
        assert.equal(clean.bridges.xapi1?.inSync, true)
        assert.deepEqual(clean.bridges.xapi1?.kernel.addresses, [DOM0_4])

        await ip(dom0, 'addr', 'del', DOM0_4, 'dev', 'xapi1')
        const drifted = await callOk<Status>(dom0, root, 'status', { bridge: 'xapi1' })
        assert.equal(drifted.bridges.xapi1?.inSync, false)
        assert.deepEqual(
          drifted.bridges.xapi1?.drift.map(d => [d.action, d.cidr]),
          [
            ['add-address', DOM0_4],
            ['switch-default-route', undefined],
          ],
          'the address and (dropped with it) the default route',
        )
      }))
  })
}
