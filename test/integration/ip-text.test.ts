// dom0's iproute may not speak `ip -j`: the host plugin then reads iproute's text output.
// Here, where ip speaks both, the text reader must see exactly what `-j` says, and a whole
// apply / re-apply / release cycle must run the same on text alone.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { IpLink, IpRoute } from '../../xapi-plugin/kernel/ip.ts'
import { parseAddrText, parseRouteText } from '../../xapi-plugin/kernel/ip-text.ts'
import { kernelReadScript, parseKernelRead } from '../../xapi-plugin/kernel/ip-batch.ts'
import { execa } from 'execa'
import { parseReply, runPluginXml, xapiEncodedCall } from '../helpers/host-plugin.ts'
import { createBridge, ip, ipJson } from '../helpers/netns.ts'
import {
  DOM0_4,
  DOM0_6,
  FULL_APPLY,
  FW4,
  FW6,
  PREVIOUS4,
  PREVIOUS6,
  addressesOf,
  defaultRoutes,
  kernelSnapshot,
  ping,
  settled,
  withTopology,
} from './topology.ts'

/** The fields the plugin reads, from either reader. */
function linkFacts(links: IpLink[]) {
  return links.map(l => ({
    ifname: l.ifname,
    up: l.flags.includes('UP'),
    addresses: (l.addr_info ?? []).map(a => [a.family, a.local, a.prefixlen, a.scope, !!a.tentative, !!a.dadfailed]),
  }))
}

function routeFacts(routes: IpRoute[]) {
  return routes.map(r => [r.dst, r.gateway, r.dev, r.metric, r.flags?.includes('onlink') ?? false])
}

async function callInText(ns: string, root: string, fn: string, args: Record<string, string>) {
  const run = await runPluginXml(ns, xapiEncodedCall(fn, args), { root, extraEnv: { VIF_IP_BINDER_IP_OUTPUT: 'text' } })
  const reply = await parseReply(run.stdout)
  if (reply.status !== 'Success') throw new Error(`${fn}: ${JSON.stringify(reply.errorDescription)}`)
  return reply.value as { changes: unknown[] }
}

test('the text reader sees what ip -j sees: links, addresses, routes of both families', () =>
  withTopology(async ({ dom0, root }) => {
    await callInText(dom0, root, 'apply', FULL_APPLY)
    await ip(dom0, 'route', 'add', '203.0.113.128/25', 'via', '203.0.113.1', 'dev', 'xenbr0', 'onlink', 'metric', '7')
    for (const dev of ['xapi1', 'xenbr0', 'vif1.0']) {
      assert.deepEqual(
        linkFacts(parseAddrText(await ip(dom0, 'addr', 'show', 'dev', dev))),
        linkFacts(await ipJson<IpLink[]>(dom0, 'addr', 'show', 'dev', dev)),
        dev,
      )
    }
    for (const family of ['-4', '-6']) {
      const text = parseRouteText(await ip(dom0, family, 'route', 'show', 'table', 'main'))
      const json = await ipJson<IpRoute[]>(dom0, family, 'route', 'show', 'table', 'main')
      assert.deepEqual(routeFacts(text), routeFacts(json), family)
      assert.ok(json.length >= 3, `${family}: enough routes to compare (${json.length})`)
    }
  }))

test('the batch reader, on JSON and on text, sees what one ip -j per object sees', () =>
  withTopology(async ({ dom0, root }) => {
    await callInText(dom0, root, 'apply', FULL_APPLY)
    // A link-local address finishing DAD between two reads would differ in its flags.
    await settled(dom0)
    const devs = ['xapi1', 'xenbr0', 'nosuch0']
    for (const text of [false, true]) {
      const batch = await execa('ip', ['netns', 'exec', dom0, 'ip', ...(text ? [] : ['-j']), '-force', '-batch', '-'], {
        input: kernelReadScript(devs),
        reject: false,
      })
      assert.match(batch.stderr, /Device "nosuch0" does not exist/)
      const read = parseKernelRead(batch.stdout, text)
      assert.deepEqual([...read.links.keys()].sort(), ['xapi1', 'xenbr0'], `text: ${text}`)
      for (const dev of ['xapi1', 'xenbr0']) {
        const json = await ipJson<IpLink[]>(dom0, 'addr', 'show', 'dev', dev)
        assert.deepEqual(linkFacts([read.links.get(dev)!]), linkFacts(json), `${dev}, text: ${text}`)
      }
      for (const family of [4, 6] as const) {
        const json = await ipJson<IpRoute[]>(dom0, `-${family}`, 'route', 'show', 'table', 'main')
        assert.deepEqual(routeFacts(read.routes[family]), routeFacts(json), `IPv${family}, text: ${text}`)
      }
    }
  }))

test('apply, a second apply and release work on text output alone', () =>
  withTopology(async ({ dom0, root }) => {
    const first = await callInText(dom0, root, 'apply', FULL_APPLY)
    assert.ok(first.changes.length > 0)
    assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_6, DOM0_4].sort())
    assert.deepEqual(await defaultRoutes(dom0, 4), [
      { dst: 'default', gateway: FW4, dev: 'xapi1', metric: PREVIOUS4.metric },
    ])
    assert.equal(await ping(dom0, FW6), true)

    const before = await kernelSnapshot(dom0)
    const second = await callInText(dom0, root, 'apply', FULL_APPLY)
    assert.deepEqual(second.changes, [], 'nothing to do, as seen through text')
    assert.deepEqual(await kernelSnapshot(dom0), before)

    await callInText(dom0, root, 'release', { bridge: 'xapi1' })
    assert.deepEqual(await addressesOf(dom0, 'xapi1'), [])
    assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
    assert.deepEqual(await defaultRoutes(dom0, 6), [{ dst: 'default', ...PREVIOUS6 }])
  }))

test('apply-many reads and changes several bridges on text output alone', () =>
  withTopology(async ({ dom0, root }) => {
    await createBridge(dom0, 'xapi2')
    const requests = JSON.stringify([FULL_APPLY, { bridge: 'xapi2', addresses: '198.18.0.2/24', 'gateway-check': '0' }])
    const first = (await callInText(dom0, root, 'apply-many', { requests })) as unknown as ManyValue
    assert.deepEqual(
      first.results.map(r => r.ok),
      [true, true],
    )
    assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_6, DOM0_4].sort())
    assert.deepEqual(await addressesOf(dom0, 'xapi2'), ['198.18.0.2/24'])
    assert.deepEqual(await defaultRoutes(dom0, 6), [
      { dst: 'default', gateway: FW6, dev: 'xapi1', metric: PREVIOUS6.metric },
    ])

    const before = await kernelSnapshot(dom0)
    const second = (await callInText(dom0, root, 'apply-many', { requests })) as unknown as ManyValue
    assert.deepEqual(
      second.results.map(r => r.changes),
      [[], []],
      'nothing to do, as seen through text',
    )
    assert.deepEqual(await kernelSnapshot(dom0), before)
  }))

interface ManyValue {
  results: { ok: boolean; changes: unknown[] }[]
}
