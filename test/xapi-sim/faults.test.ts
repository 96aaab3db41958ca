// Faults on demand, observed from the outside: dropped, delayed and held calls, cut event.from
// connections, forced EVENTS_LOST (xen-api refetches everything), hung and failing
// call_plugin, and a whole-server restart that loses sessions (xen-api logs in again).

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ScenarioDefinition } from './scenario.ts'
import { type Simulator, startSimulator } from './simulator.ts'
import { connectClient, login, rpc, waitUntil, type XapiClient } from './test-helpers.ts'

const scenario: ScenarioDefinition = {
  name: 'faults',
  hosts: [{ name: 'h1', address: '192.0.2.1' }],
  networks: [],
}

const OK_PLUGIN = `#!${process.execPath}
process.stdout.write('<methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>done</value></member></struct></value></param></params></methodResponse>')
`

describe('faults', () => {
  let sim: Simulator
  let session: string
  let xapi: XapiClient
  const calls: string[] = []

  before(async () => {
    sim = await startSimulator({ scenario, hostPlugin: false })
    sim.api.observers.add(method => calls.push(method))
    session = await login(sim)
    await sim.writePlugin('ok', OK_PLUGIN)
    xapi = connectClient(sim, 'json-rpc', { eventPollDelay: 100 })
    await xapi.connect()
    await xapi.objectsFetched
  })
  after(async () => {
    await xapi?.disconnect().catch(() => undefined)
    await sim?.stop()
  })

  const renameHost = (name: string) => rpc(sim, 'host.set_name_label', session, sim.host('h1').ref, name)
  const cachedHostName = () => xapi.getObjectByUuid(sim.host('h1').uuid).name_label

  it('drops a matching call without an answer, once', async () => {
    sim.addConnectionFault({ match: { method: 'host.get_address' }, action: 'drop', times: 1 })
    await assert.rejects(rpc(sim, 'host.get_address', session, sim.host('h1').ref), (e: any) =>
      /socket hang up|ECONNRESET|other side closed/i.test(`${e.message} ${e.code}`),
    )
    assert.equal(await rpc(sim, 'host.get_address', session, sim.host('h1').ref), '192.0.2.1')
  })

  it('holds a matching call, once, until released; the others go on meanwhile', async () => {
    sim.addConnectionFault({ match: { method: 'host.get_address' }, action: 'hold', times: 1 })
    let answered = false
    const held = rpc(sim, 'host.get_address', session, sim.host('h1').ref).then(address => {
      answered = true
      return address
    })
    await waitUntil('the call held', () => sim.heldCalls === 1)
    assert.equal(await rpc(sim, 'host.get_address', session, sim.host('h1').ref), '192.0.2.1', 'not held: times 1')
    assert.equal(answered, false, 'still held')
    sim.releaseHeldCalls()
    assert.equal(await held, '192.0.2.1')
    assert.equal(sim.heldCalls, 0)
  })

  it('delays the calls of one user', async () => {
    const id = sim.addConnectionFault({ match: { user: 'root', method: /^pool\./ }, action: 'delay', delayMs: 400 })
    const t0 = Date.now()
    await rpc(sim, 'pool.get_all', session)
    assert.ok(Date.now() - t0 >= 390)
    sim.removeFault(id)
    await rpc(sim, 'pool.get_all', session)
    const applied = sim.timeline.entries({ kind: 'fault.applied' }).filter(e => e.detail?.id === id)
    assert.equal(applied.length, 1, 'the delay applied to the first call only, not after its removal')
  })

  it('cuts a waiting event.from; xen-api recovers and keeps receiving events', async () => {
    await waitUntil('xen-api waiting in event.from', () => sim.dropConnections({ method: 'event.from' }) > 0, 5000)
    await renameHost('after-drop')
    await waitUntil('the rename in the cache', () => cachedHostName() === 'after-drop', 10_000)
  })

  it('forced EVENTS_LOST makes xen-api fetch every class again', async () => {
    const before = calls.filter(c => c === 'host.get_all_records').length
    sim.forceEventsLost()
    await waitUntil('a refetch', () => calls.filter(c => c === 'host.get_all_records').length > before, 10_000)
    await renameHost('after-lost')
    await waitUntil('the rename in the cache', () => cachedHostName() === 'after-lost', 10_000)
  })

  it('call_plugin hangs until released (then runs the plugin), or fails as told', async () => {
    sim.addPluginFault({ plugin: 'ok', action: 'hang', times: 1 })
    let settled = false
    const pending = rpc(sim, 'host.call_plugin', session, sim.host('h1').ref, 'ok', 'fn', {}).finally(
      () => (settled = true),
    )
    await waitUntil('the call to hang', () => sim.faults.hungPlugins === 1)
    await new Promise(r => setTimeout(r, 300))
    assert.equal(settled, false)
    sim.releaseHungPlugins()
    assert.equal(await pending, 'done')

    sim.addPluginFault({
      host: 'h1',
      fn: 'apply',
      action: 'fail',
      error: ['VIB_GATEWAY_UNREACHABLE', '10.0.0.1'],
      times: 1,
    })
    await assert.rejects(rpc(sim, 'host.call_plugin', session, sim.host('h1').ref, 'ok', 'apply', {}), {
      code: 'VIB_GATEWAY_UNREACHABLE',
      params: ['10.0.0.1'],
    })
    assert.equal(await rpc(sim, 'host.call_plugin', session, sim.host('h1').ref, 'ok', 'apply', {}), 'done')
  })

  it('a restart loses sessions and tasks; xen-api logs in again and resumes events', async () => {
    const task = await rpc(sim, 'task.create', session, 'x', '')
    const sessionsBefore = calls.filter(c => c === 'session.login_with_password').length
    await sim.restart({ downtimeMs: 300 })
    await assert.rejects(rpc(sim, 'pool.get_all', session), { code: 'SESSION_INVALID' })
    session = await login(sim)
    await assert.rejects(rpc(sim, 'task.get_record', session, task), { code: 'HANDLE_INVALID' })
    assert.deepEqual(await xapi.call('host.get_name_label', sim.host('h1').ref), 'after-lost')
    assert.ok(
      calls.filter(c => c === 'session.login_with_password').length > sessionsBefore + 1,
      'xen-api logged in again',
    )
    await renameHost('after-restart')
    await waitUntil('the rename in the cache', () => cachedHostName() === 'after-restart', 15_000)
    assert.equal(sim.timeline.entries({ kind: 'server.restarted' }).length, 1)
  })
})
