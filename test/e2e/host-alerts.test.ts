// Failures where admins look: each one the host meets alone (boot, hook, plug-srs, rescue)
// leaves exactly one xapi message of its documented name on the host, read back with
// message.get_all_records as Xen Orchestra reads messages; a repeat within the hour adds
// none; after the hour the message is replaced; the condition's end destroys it. The hour
// passes by ageing the host's own record of it (alerts.json), never by waiting. The XO
// plugin's Test report shows what is open.

import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ALERTS, type AlertCause } from '../../shared/alerts.ts'
import { ip } from '../helpers/netns.ts'
import { failureText } from '../helpers/test-failure.ts'
import { FIREWALL_POOL as F, firewallPool } from '../xapi-sim/scenarios/firewall-pool.ts'
import type { Simulator } from '../xapi-sim/simulator.ts'
import { login, rpc } from '../xapi-sim/test-helpers.ts'
import { autonomousPool, bootHost, disabledPool, pbdAttached } from './autonomous-pool.ts'
import { type Harness, defaultRoute, nfsAttached, nfsSr, startHarness, waitFor } from './helpers.ts'

interface MessageRecord {
  uuid: string
  name: string
  priority: number
  cls: string
  obj_uuid: string
  body: string
}

async function messages(sim: Simulator, session: string, cause: AlertCause): Promise<MessageRecord[]> {
  const all = (await rpc(sim, 'message.get_all_records', session)) as Record<string, MessageRecord>
  return Object.values(all).filter(m => m.name === ALERTS[cause].name)
}

/** The one message of this cause, on host1, with xapi's priority for it. */
async function theMessage(sim: Simulator, session: string, cause: AlertCause): Promise<MessageRecord> {
  const found = await messages(sim, session, cause)
  assert.equal(found.length, 1, `one ${ALERTS[cause].name}: ${JSON.stringify(found)}`)
  const [message] = found
  assert.deepEqual(
    [message!.priority, message!.cls, message!.obj_uuid],
    [ALERTS[cause].priority, 'Host', sim.host('host1').uuid],
  )
  return message!
}

/** An hour passes for the host's alerts: every open one was raised two hours ago. */
function anHourPasses(sim: Simulator): void {
  const path = join(sim.host('host1').root, 'var/lib/vif-ip-binder/alerts.json')
  const state = JSON.parse(readFileSync(path, 'utf8')) as { alerts: Record<string, { raisedAt: string }> }
  for (const alert of Object.values(state.alerts)) alert.raisedAt = new Date(Date.now() - 2 * 3600_000).toISOString()
  writeFileSync(path, JSON.stringify(state))
}

describe('alerts of a host that binds alone: bridge, gateway, storage', () => {
  let sim: Simulator
  let session: string
  // The gateway gives up at once: the hook's quarter of an hour is not what is tested here.
  const boot = () => bootHost(sim, 'host1', { VIF_IP_BINDER_GATEWAY_WAIT_SECONDS: '1' })
  /** What `status` says is open, as `name subject` pairs. */
  const openInStatus = async () => {
    const value = (await rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'status', {
      'firewall-vifs': 'false',
    })) as string
    const alerts = (JSON.parse(value) as { alerts?: { name: string; subject: string }[] }).alerts ?? []
    return alerts.map(a => `${a.name} ${a.subject}`)
  }
  const plugSrs = async (timeout: string) =>
    rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'plug-srs', {
      srs: sim.record('SR', F.srName).uuid as string,
      timeout,
    })
  before(async () => {
    // The firewall runs before the plugin is installed (no hook), without its address on dom0's network yet.
    const scenario = firewallPool({ firewallRunning: true })
    scenario.vms![0]!.guest!.addresses!['0'] = []
    ;({ sim, session } = await autonomousPool({ srs: false, gatewayCheckSeconds: 1 }, scenario))
  })
  after(() => sim?.stop())

  test('a bind that fails at boot: one VIF_IP_BINDER_BIND_FAILED, not repeated within the hour', async () => {
    await ip(sim.host('host1').netns, 'link', 'del', 'xenbr0') // the management bridge the mirror goes on
    await boot()
    const first = await theMessage(sim, session, 'bind-failed')
    assert.match(first.body, /bridge xapi0 could not be bound.*xenbr0/)
    await boot()
    assert.equal((await theMessage(sim, session, 'bind-failed')).uuid, first.uuid, 'the same message, no second one')
  })

  test('after the hour, a repeat replaces the message', async () => {
    const before = await theMessage(sim, session, 'bind-failed')
    anHourPasses(sim)
    await boot()
    const after = await theMessage(sim, session, 'bind-failed')
    assert.notEqual(after.uuid, before.uuid)
    assert.match(after.body, /it happened 3 times since/)
  })

  test('a gateway that never answers supersedes it: one VIF_IP_BINDER_GATEWAY_UNREACHABLE', async () => {
    const netns = sim.host('host1').netns
    await ip(netns, 'link', 'add', 'xenbr0', 'type', 'bridge')
    await ip(netns, 'link', 'set', 'xenbr0', 'up')
    await boot()
    assert.deepEqual(await messages(sim, session, 'bind-failed'), [], 'the bridge binds now: that alert is gone')
    const first = await theMessage(sim, session, 'gateway-unreachable')
    assert.match(first.body, new RegExp(`bridge xapi0: the gateway never answered.*${F.firewallPrivateAddress}`))
    await boot()
    assert.equal((await theMessage(sim, session, 'gateway-unreachable')).uuid, first.uuid)
  })

  test('SRs still detached after the wait: one VIF_IP_BINDER_SR_DETACHED per SR, not repeated within the hour', async () => {
    await plugSrs('1')
    const first = await theMessage(sim, session, 'srs-detached')
    assert.match(first.body, new RegExp(`SR "${F.srName}" .* still detached .*tcp:${F.nfsServer}:2049 did not answer`))
    await plugSrs('1')
    assert.equal((await theMessage(sim, session, 'srs-detached')).uuid, first.uuid)
    const sr = sim.record('SR', F.srName).uuid as string
    assert.deepEqual(await openInStatus(), [
      `${ALERTS['gateway-unreachable'].name} xapi0`,
      `${ALERTS['srs-detached'].name} ${sr}`,
    ])
  })

  test('the conditions end: the gateway answers, the SR plugs, and their messages are destroyed', async () => {
    await ip(sim.vm(F.firewallVm).netns, 'addr', 'add', `${F.firewallPrivateAddress}/24`, 'dev', 'eth0')
    await boot()
    assert.equal(await defaultRoute(sim.host('host1').netns), `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`)
    assert.deepEqual(await messages(sim, session, 'gateway-unreachable'), [])
    await plugSrs('20')
    assert.equal(pbdAttached(sim, 'host1'), true)
    assert.deepEqual(await messages(sim, session, 'srs-detached'), [])
    assert.deepEqual(await openInStatus(), [])
  })
})

describe('alerts of the vif-hotplug hook', () => {
  let sim: Simulator
  let session: string
  before(async () => ({ sim, session } = await autonomousPool({ srs: false })))
  after(() => sim?.stop())

  test('a bind that fails on the hook: one VIF_IP_BINDER_BIND_FAILED, destroyed once the next plug binds', async () => {
    const { netns, ref } = sim.host('host1')
    await ip(netns, 'link', 'del', 'xenbr0')
    await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, ref, false, false)
    await waitFor('the hook worker gave up', async () => (await messages(sim, session, 'bind-failed')).length > 0)
    assert.match((await theMessage(sim, session, 'bind-failed')).body, /bridge xapi0 could not be bound.*xenbr0/)

    await ip(netns, 'link', 'add', 'xenbr0', 'type', 'bridge')
    await ip(netns, 'link', 'set', 'xenbr0', 'up')
    await rpc(sim, 'VM.clean_shutdown', session, sim.vm(F.firewallVm).ref)
    await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, ref, false, false)
    await waitFor('the message destroyed', async () => (await messages(sim, session, 'bind-failed')).length === 0)
    assert.equal(await defaultRoute(netns), `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`)
  })
})

describe('alerts of a rescue', () => {
  let sim: Simulator
  let session: string
  before(async () => ({ sim, session } = await disabledPool(true)))
  after(() => sim?.stop())

  test('a rescue that enabled the host and started VMs: one VIF_IP_BINDER_RESCUED, not repeated within the hour', async () => {
    assert.equal((await bootHost(sim, 'host1')).rescue.acted, true)
    const first = await theMessage(sim, session, 'rescued')
    assert.match(
      first.body,
      /the rescue enabled it.*started "firewall" \(bound\), "db" \(auto-start\), "app" \(auto-start\)/,
    )

    sim.setHostEnabled('host1', false)
    assert.equal((await bootHost(sim, 'host1')).rescue.acted, true, 'rescued a second time')
    assert.equal((await theMessage(sim, session, 'rescued')).uuid, first.uuid, 'the same message, no second one')
  })
})

describe("alerts in the XO plugin's Test report", { timeout: 200_000 }, () => {
  let h: Harness | undefined
  after(() => h?.close())

  test('an SR left detached on the host is a problem in the report until the host destroys its message', async () => {
    h = await startHarness()
    const { sim, plugin, binding } = h
    const session = await login(sim)
    // The host met it alone (the firewall is not running yet, the NFS server is behind it).
    await rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'plug-srs', {
      srs: nfsSr(sim).sr,
      timeout: '1',
    })
    await plugin.configure({ bindings: [{ ...binding, srs: [nfsSr(sim)] }] })
    await plugin.load()
    await plugin.instance.whenIdle()
    await assert.rejects(plugin.test({}), (error: Error) => {
      assert.match(
        failureText(error),
        new RegExp(
          `PROBLEM: alert on host "host1": VIF_IP_BINDER_SR_DETACHED \\(.*\\): SR "${F.srName}" .* still detached`,
        ),
      )
      return true
    })

    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the NFS PBD attached on host1', () => nfsAttached(sim, 'host1'), 150_000)
    await waitFor('a report with no alert left', async () => {
      const report = (await plugin.test({}).catch((error: Error) => ({ ok: false, text: failureText(error) }))) as {
        ok: boolean
        text: string
      }
      return report.ok && !/VIF_IP_BINDER_/.test(report.text)
    })
  })
})
