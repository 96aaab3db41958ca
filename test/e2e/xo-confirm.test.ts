// Confirm or revert, end to end: Xen Orchestra (on the LAN, behind the firewall) changes a
// binding's address to one that cuts the host off from it. The change goes through the pool
// connection; the confirmation must come through a new connection to the host's own address,
// which the simulator answers only while the LAN really reaches that address (a ping through
// the firewall into the host's namespace). So XO cannot confirm, the host reverts by itself,
// XO reaches it again, and Test says which host reverted and why. Waits are bounded waits for
// observed state.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, it } from 'node:test'
import { createClient } from 'xen-api'
import type { Xapi } from '../xo-facade/facade.ts'
import { failureText } from '../helpers/test-failure.ts'
import { hostLog, installHostPlugin } from './standalone-hosts.ts'
import { createBridge, ipJson } from '../helpers/netns.ts'
import { login, rpc } from '../xapi-sim/test-helpers.ts'
import { FIREWALL_POOL as F, type Harness, addresses, defaultRoute, pings, startHarness, waitFor } from './helpers.ts'

let h: Harness | undefined

afterEach(async () => {
  await h?.close()
  h = undefined
})

const CUT_OFF = '10.77.0.9'

async function onBridge(ns: string): Promise<string[]> {
  return (await addresses(ns))[F.privateBridge] ?? []
}

/** A fresh xen-api connection to the host's own endpoint: what "XO reaches it" means. */
async function reachable(url: string, user: string, password: string, hostUuid: string): Promise<boolean> {
  const client = createClient({ url, auth: { user, password }, watchEvents: false }) as unknown as Xapi
  try {
    await client.connect()
    return typeof (await client.call('host.get_by_uuid', hostUuid)) === 'string'
  } catch {
    return false
  } finally {
    await client.disconnect().catch(() => undefined)
  }
}

/**
 * The new address in place and the old one gone: the change is made before it breaks
 * anything, so the new address shows a moment before the old one leaves.
 */
async function changedTo(ns: string, address: string): Promise<boolean> {
  const now = await onBridge(ns)
  return now.includes(`${address}/24`) && !now.includes(`${F.hostAddresses[0]}/24`)
}

/** The binding applied on host1 by XO, with an 8 s window for changes; host1 reachable from the LAN. */
async function boundOnHost1() {
  const { sim, plugin, binding, hostUrls } = h!
  const { user, password } = sim.describe()
  const host1 = sim.host('host1')
  const lan = sim.external('nfs').netns
  await plugin.configure({ bindings: [binding], confirmSeconds: 8 })
  await plugin.load()
  await sim.startVm(F.firewallVm, 'host1')
  await waitFor('host1 bound', async () => (await onBridge(host1.netns)).includes(`${F.hostAddresses[0]}/24`))
  await waitFor('host1 reachable from the LAN', () => pings(lan, F.hostAddresses[0]))
  return { host1, lan, hostUrl: hostUrls[F.hostAddresses[0]]!, user, password }
}

/**
 * Test during host1's window fails (xo-web shows only a failed Test's lines) and says which
 * change waits, until when, and why Xen Orchestra has not confirmed it yet. Until XO's first
 * attempt failed the line is there but no problem yet. Undefined when the window was too
 * close to its end to ask (the status Test reads must be from before the deadline).
 */
async function testDuringWindow(hostUrl: string): Promise<string | undefined> {
  const state = JSON.parse(readFileSync(join(h!.sim.host('host1').root, 'var/lib/vif-ip-binder/state.json'), 'utf8'))
  const deadline = state.confirmation.deadline as string
  const waiting = new RegExp(
    `PROBLEM: a change of xapi0 on host "host1" waits for its confirmation until ${deadline}: unconfirmed, the host reverts it then \\(Xen Orchestra's latest attempt: new connection to ${hostUrl}: `,
  )
  let during: string | undefined
  while (Date.now() < Date.parse(deadline) - 2000 && !waiting.test(during ?? '')) {
    during = await h!.plugin.test({}).then(
      () => 'Test passed',
      (error: Error) => failureText(error),
    )
  }
  if (during !== undefined) assert.match(during, waiting)
  return during
}

it('a change that cuts the host off from XO is reverted by the host; XO reaches it again and Test says which host and why', async () => {
  // The host plugin installed as on a real host (hook and boot unit too): the host's own
  // paths must not re-apply the reverted change either.
  h = await startHarness({ hostPlugin: false })
  const { sim, plugin, binding } = h
  await installHostPlugin(sim)
  const { host1, lan, hostUrl, user, password } = await boundOnHost1()
  assert.equal(await reachable(hostUrl, user, password, host1.uuid), true)
  const boundRoute = await defaultRoute(host1.netns)

  const change = { ...binding, addresses: [`${CUT_OFF}/24`], managementAddress: CUT_OFF }
  await plugin.configure({ bindings: [change], confirmSeconds: 8 })
  await waitFor('the change applied on host1', () => changedTo(host1.netns, CUT_OFF))
  assert.equal(await pings(lan, F.hostAddresses[0]), false, 'host1 is cut off from the LAN')
  await testDuringWindow(hostUrl)

  await waitFor(
    'host1 back to its previous address',
    async () => {
      const now = await onBridge(host1.netns)
      return now.includes(`${F.hostAddresses[0]}/24`) && !now.includes(`${CUT_OFF}/24`)
    },
    60_000,
  )
  assert.equal(await defaultRoute(host1.netns), boundRoute)
  await waitFor('XO reaches host1 again on a new connection', () => reachable(hostUrl, user, password, host1.uuid))

  await plugin.instance.whenIdle()
  const failure = await plugin.test({}).then(
    () => assert.fail('Test must report the revert'),
    (error: Error) => failureText(error),
  )
  // One line for the revert: the host's side and Xen Orchestra's, no second line for the
  // host's alert, and what the host keeps is no "pending or failed" apply.
  assert.deepEqual(
    failure.split('\n').filter(line => line.includes('PROBLEM')).length,
    1,
    `one PROBLEM line in:\n${failure}`,
  )
  assert.match(
    failure,
    new RegExp(
      `PROBLEM: host "host1" reverted an unconfirmed change of xapi0 at \\S+ \\(not confirmed by \\S+: reverted at the deadline\\): Xen Orchestra could not confirm it \\(new connection to ${hostUrl}: .+\\): either the configured binding cuts the host off`,
    ),
  )
  const report = h.xo.tasks.logs.at(-1)!
  assert.match(
    report.infos.map(i => i.message).join('\n'),
    /host "host1" keeps its arguments from before the reverted change: \{"bridge":"xapi0","addresses":"10\.77\.0\.2\/24"/,
  )
  // Neither XO nor the host's hook applies the change again when the firewall restarts
  // (the pool's configuration still holds it): it would cut the host off again.
  await sim.shutdownVm(F.firewallVm)
  await waitFor('host1 released', async () => (await onBridge(host1.netns)).length === 0)
  await sim.startVm(F.firewallVm, 'host1')
  await waitFor(
    'the hook kept the reverted change out',
    () => /reverted unconfirmed/.test(hostLog(sim, 'host1')),
    60_000,
  )
  await waitFor('host1 bound as before the change', async () =>
    (await onBridge(host1.netns)).includes(`${F.hostAddresses[0]}/24`),
  )
  await plugin.instance.whenIdle()
  assert.equal((await onBridge(host1.netns)).includes(`${CUT_OFF}/24`), false)
  assert.equal(await pings(lan, F.hostAddresses[0]), true)

  // The admin saves the binding the host kept while the plugin is off (or xo-server restarts
  // after): the host still reports the revert, so XO applies even what the host holds with a
  // window, and its confirmation ends the revert, its record and the host's alert.
  await plugin.unload()
  await plugin.configure({ bindings: [binding], confirmSeconds: 8 })
  await plugin.load()
  await plugin.instance.whenIdle()
  await waitFor('the revert ended', async () => {
    const state = JSON.parse(readFileSync(join(host1.root, 'var/lib/vif-ip-binder/state.json'), 'utf8'))
    return !(state.lastRevert?.bridges ?? []).includes(F.privateBridge)
  })
  await plugin.test({})
})

it('Test during the window names the change waiting for its confirmation when the change cut Xen Orchestra off the pool master too', async () => {
  // Xen Orchestra on the LAN reaches the pool through its master's own address: the change
  // that cuts the master off cuts the pool connection too, and the host cannot say anything.
  h = await startHarness()
  const { xo, plugin, binding } = h
  const { host1, hostUrl, user, password } = await boundOnHost1()
  await plugin.instance.whenIdle()
  await xo.disconnectServer('firewall-pool')
  await xo.connectServer('firewall-pool', { url: hostUrl, user, password })
  await plugin.instance.whenIdle()

  const change = { ...binding, addresses: [`${CUT_OFF}/24`], managementAddress: CUT_OFF }
  await plugin.configure({ bindings: [change], confirmSeconds: 8 })
  await waitFor('the change applied on host1', () => changedTo(host1.netns, CUT_OFF))
  const during = await testDuringWindow(hostUrl)
  if (during !== undefined) assert.match(during, /PROBLEM: status on host "host1" failed: /)
  await waitFor(
    'host1 back to its previous address',
    async () => (await onBridge(host1.netns)).includes(`${F.hostAddresses[0]}/24`),
    60_000,
  )
})

it('a change XO confirmed shares its window with one nobody confirmed: XO says so, and applies it again once the host reverts the window', async () => {
  const warnings: string[] = []
  const transport = Symbol.for('@xen-orchestra/log')
  const global = globalThis as Record<symbol, unknown>
  const previous = global[transport]
  global[transport] = (log: { level: number; message: string }) => {
    if (log.level === 40) warnings.push(log.message)
  }
  try {
    h = await startHarness()
    const { sim, plugin, binding } = h
    const { host1 } = await boundOnHost1()
    await plugin.instance.whenIdle()
    // By hand, on another bridge of host1: a change in a window nobody will confirm.
    await createBridge(host1.netns, 'xapi9')
    const session = await login(sim)
    const byHand = { bridge: 'xapi9', addresses: '198.18.9.2/24', confirm: '10' }
    await rpc(sim, 'host.call_plugin', session, host1.ref, 'vif-ip-binder', 'apply', byHand)

    // Xen Orchestra's change keeps host1 reachable: XO confirms it, in the same window.
    const route = `198.51.100.0/24=${F.firewallPrivateAddress}`
    await plugin.configure({ bindings: [{ ...binding, routes: [route] }], confirmSeconds: 8 })
    await plugin.instance.whenIdle()
    const routed = async () => (await ipJson<unknown[]>(host1.netns, 'route', 'show', '198.51.100.0/24')).length > 0
    assert.equal(await routed(), true)
    assert.equal(
      warnings.filter(w =>
        /host "host1": 1 other change\(s\) in the same confirmation window .* are not confirmed yet; unless they are by \S+, the host reverts the whole window, this change too, and Xen Orchestra applies it again then/.test(
          w,
        ),
      ).length,
      1,
      warnings.join('\n'),
    )

    const state = () => JSON.parse(readFileSync(join(host1.root, 'var/lib/vif-ip-binder/state.json'), 'utf8'))
    await waitFor('the window reverted', () => (state().lastRevert?.bridges ?? []).includes('xapi9'), 60_000)
    assert.deepEqual((await addresses(host1.netns)).xapi9 ?? [], [], 'the change by hand is gone')
    await waitFor(
      'XO applied its change again, and confirmed it',
      async () => {
        const reverted: string[] = state().lastRevert?.bridges ?? []
        return !reverted.includes(F.privateBridge) && (await routed())
      },
      60_000,
    )
    assert.equal(await pings(sim.external('nfs').netns, F.hostAddresses[0]), true)
  } finally {
    global[transport] = previous
  }
})
