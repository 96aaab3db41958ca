// The wire: JSON-RPC v1/v2 and XML-RPC in xapi's shapes and content types, the 300 KiB
// limit, sessions (TCP and the host's unix socket), generic class methods and the error
// codes clients depend on.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeMethodResponse, encodeMethodCall } from '../../shared/xmlrpc.ts'
import type { ScenarioDefinition } from './scenario.ts'
import { type Simulator, startSimulator } from './simulator.ts'
import { jsonCall, login, post, rpc } from './test-helpers.ts'

const small: ScenarioDefinition = {
  name: 'small',
  users: [{ user: 'admin', password: 's3cret' }],
  hosts: [{ name: 'alpha', address: '192.0.2.10' }],
  networks: [{ name: 'private', bridge: 'xapi5' }],
  vms: [{ name: 'guest', vifs: [{ network: 'private' }] }],
}

describe('RPC transports and sessions', () => {
  let sim: Simulator
  let session: string

  before(async () => {
    sim = await startSimulator({ scenario: small, hostPlugin: false })
    session = await login(sim)
  })
  after(async () => sim?.stop())

  it('JSON-RPC v2: result shape and exact content type', async () => {
    const res = await post(
      sim,
      '/jsonrpc',
      JSON.stringify({ jsonrpc: '2.0', method: 'pool.get_all', params: [session], id: 'a' }),
      'application/json',
    )
    assert.equal(res.status, 200)
    assert.equal(res.contentType, 'application/json')
    assert.deepEqual(JSON.parse(res.body), { jsonrpc: '2.0', result: [sim.poolRef], id: 'a' })
  })

  it('JSON-RPC v2 errors are {code: 1, message: CODE, data: params}', async () => {
    const res = await jsonCall(sim, 'VM.get_record', [session, 'OpaqueRef:nope'])
    assert.deepEqual(res, {
      jsonrpc: '2.0',
      error: { code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:nope'] },
      id: 7,
    })
  })

  it('JSON-RPC v1: {result, error: null, id} and the ErrorDescription as error', async () => {
    const ok = await jsonCall(sim, 'host.get_name_label', [session, sim.host('alpha').ref], '1.0')
    assert.deepEqual(ok, { result: 'alpha', error: null, id: 7 })
    const ko = await jsonCall(sim, 'nope.nothing', [session], '1.0')
    assert.deepEqual(ko, { result: null, error: ['MESSAGE_METHOD_UNKNOWN', 'nope.nothing'], id: 7 })
  })

  for (const path of ['/', '/xmlrpc']) {
    it(`XML-RPC on ${path}: xapi's encoding (bare strings, int64 as text), text/xml`, async () => {
      const res = await post(sim, path, encodeMethodCall('VM.get_record', [session, sim.vm('guest').ref]), 'text/xml')
      assert.equal(res.contentType, 'text/xml')
      assert.match(res.body, /<member><name>Status<\/name><value>Success<\/value><\/member>/)
      assert.match(res.body, /<name>domid<\/name><value>-1<\/value>/)
      assert.match(res.body, /<name>is_control_domain<\/name><value><boolean>0<\/boolean><\/value>/)
      const decoded = decodeMethodResponse(res.body)
      assert.equal(decoded.kind, 'value')
      const value = (decoded as { value: any }).value
      assert.equal(value.Value.name_label, 'guest')
      assert.equal(value.Value.power_state, 'Halted')
    })
  }

  it('XML-RPC failures are {Status: Failure, ErrorDescription}', async () => {
    const res = await post(sim, '/', encodeMethodCall('VM.start', [session, sim.vm('guest').ref]), 'text/xml')
    const value = (decodeMethodResponse(res.body) as { value: any }).value
    assert.deepEqual(value, {
      Status: 'Failure',
      ErrorDescription: ['MESSAGE_PARAMETER_COUNT_MISMATCH', 'VM.start', '4', '2'],
    })
  })

  it('sessions work across dialects', async () => {
    const xmlLogin = await post(
      sim,
      '/xmlrpc',
      encodeMethodCall('session.login_with_password', ['admin', 's3cret', '1.0', 'test']),
      'text/xml',
    )
    const xmlSession = ((decodeMethodResponse(xmlLogin.body) as { value: any }).value as any).Value
    assert.match(xmlSession, /^OpaqueRef:/)
    assert.equal(await rpc(sim, 'pool.get_name_label', xmlSession, sim.poolRef), 'small')
  })

  it('refuses bodies over 300 KiB with 413, accepts just under', async () => {
    const big = JSON.stringify({
      jsonrpc: '2.0',
      method: 'pool.get_all',
      params: [session, 'x'.repeat(300 * 1024)],
      id: 1,
    })
    const res = await post(sim, '/jsonrpc', big, 'application/json')
    assert.equal(res.status, 413)
    const fits = JSON.stringify({
      jsonrpc: '2.0',
      method: 'pool.get_all',
      params: [session],
      id: 1,
      pad: 'x'.repeat(300 * 1024 - 200),
    })
    const ok = await post(sim, '/jsonrpc', fits, 'application/json')
    assert.equal(ok.status, 200)
    assert.deepEqual(JSON.parse(ok.body).result, [sim.poolRef])
  })

  it('wrong password → SESSION_AUTHENTICATION_FAILED; root with empty password refused over TCP', async () => {
    await assert.rejects(rpc(sim, 'session.login_with_password', 'admin', 'wrong'), {
      code: 'SESSION_AUTHENTICATION_FAILED',
      params: ['admin', 'Authentication failure'],
    })
    await assert.rejects(rpc(sim, 'session.login_with_password', 'root', ''), { code: 'SESSION_AUTHENTICATION_FAILED' })
  })

  it('the host unix socket (<root>/var/lib/xcp/xapi) accepts local root with an empty password', async () => {
    const socketPath = sim.host('alpha').socketPath
    assert.ok(socketPath.endsWith('/var/lib/xcp/xapi') && socketPath.startsWith(sim.host('alpha').root))
    const local = await rpc({ socketPath }, 'session.login_with_password', 'root', '', '1.0', 'plug-late-sr')
    assert.match(local, /^OpaqueRef:/)
    assert.deepEqual(await rpc({ socketPath }, 'host.get_all', local), [sim.host('alpha').ref])
    // and that session is valid over TCP too
    assert.equal(await rpc(sim, 'host.get_address', local, sim.host('alpha').ref), '192.0.2.10')
    // XML-RPC over the socket as well
    const xml = await post({ socketPath }, '/', encodeMethodCall('pool.get_all', [local]), 'text/xml')
    assert.deepEqual(((decodeMethodResponse(xml.body) as { value: any }).value as any).Value, [sim.poolRef])
  })

  it('logout invalidates the session: SESSION_INVALID [ref]', async () => {
    const s = await login(sim)
    assert.equal(await rpc(sim, 'session.logout', s), '')
    await assert.rejects(rpc(sim, 'pool.get_all', s), { code: 'SESSION_INVALID', params: [s] })
    await assert.rejects(rpc(sim, 'pool.get_all', 'OpaqueRef:bogus'), {
      code: 'SESSION_INVALID',
      params: ['OpaqueRef:bogus'],
    })
  })

  it('errors: MESSAGE_METHOD_UNKNOWN, MESSAGE_PARAMETER_COUNT_MISMATCH, HANDLE_INVALID, UUID_INVALID', async () => {
    await assert.rejects(rpc(sim, 'VM.fly', session), { code: 'MESSAGE_METHOD_UNKNOWN', params: ['VM.fly'] })
    await assert.rejects(rpc(sim, 'Async.VM.get_record', session, 'x'), { code: 'MESSAGE_METHOD_UNKNOWN' })
    await assert.rejects(rpc(sim, 'VM.get_record', session), {
      code: 'MESSAGE_PARAMETER_COUNT_MISMATCH',
      params: ['VM.get_record', '2', '1'],
    })
    await assert.rejects(rpc(sim, 'host.get_record', session, sim.vm('guest').ref), {
      code: 'HANDLE_INVALID',
      params: ['host', sim.vm('guest').ref],
    })
    await assert.rejects(rpc(sim, 'VM.get_by_uuid', session, 'nope'), { code: 'UUID_INVALID', params: ['VM', 'nope'] })
  })

  it('generic methods: get_all_records, get_record, get_by_uuid, get_<field>, get_by_name_label', async () => {
    const vms = await rpc(sim, 'VM.get_all_records', session)
    assert.equal(Object.keys(vms).length, 2) // guest + control domain
    const guest = sim.vm('guest')
    assert.equal(vms[guest.ref].name_label, 'guest')
    assert.equal(await rpc(sim, 'VM.get_by_uuid', session, guest.uuid), guest.ref)
    assert.equal(await rpc(sim, 'VM.get_power_state', session, guest.ref), 'Halted')
    assert.deepEqual(await rpc(sim, 'VM.get_by_name_label', session, 'guest'), [guest.ref])
    const network = await rpc(sim, 'network.get_record', session, sim.ref('network', 'private'))
    assert.equal(network.bridge, 'xapi5')
    assert.match((await rpc(sim, 'VM.get_record', session, guest.ref)).snapshot_time, /^\d{8}T\d\d:\d\d:\d\dZ$/)
  })

  it('other_config: add_to_ fails on an existing key (MAP_DUPLICATE_KEY); remove_from_ of a missing key is silent', async () => {
    const ref = sim.vm('guest').ref
    await rpc(sim, 'VM.add_to_other_config', session, ref, 'k', 'v1')
    await assert.rejects(rpc(sim, 'VM.add_to_other_config', session, ref, 'k', 'v2'), {
      code: 'MAP_DUPLICATE_KEY',
      params: ['VM', 'other_config', ref, 'k'],
    })
    assert.deepEqual(await rpc(sim, 'VM.get_other_config', session, ref), { k: 'v1' })
    await rpc(sim, 'VM.remove_from_other_config', session, ref, 'k')
    await rpc(sim, 'VM.remove_from_other_config', session, ref, 'k')
    assert.deepEqual(await rpc(sim, 'VM.get_other_config', session, ref), {})
    await rpc(sim, 'VM.set_other_config', session, ref, { a: 'b' })
    assert.deepEqual(sim.record('VM', ref).other_config, { a: 'b' })
  })

  it('system.listMethods needs no session and lists get_all_records, Async variants', async () => {
    const methods: string[] = await rpc(sim, 'system.listMethods')
    for (const m of [
      'VM.get_all_records',
      'host.get_all_records',
      'task.get_all_records',
      'event.from',
      'host.call_plugin',
      'Async.host.call_plugin',
      'Async.VM.start',
      'PBD.plug',
    ]) {
      assert.ok(methods.includes(m), m)
    }
    assert.ok(!methods.includes('Async.VM.get_record'))
  })

  it('host.enable/disable and a host booted disabled', async () => {
    const s2 = await startSimulator({
      scenario: { ...small, hosts: [{ name: 'beta', address: '192.0.2.11', enabled: false }] },
      hostPlugin: false,
    })
    try {
      const sess = await login(s2)
      const host = s2.host('beta').ref
      assert.equal(await rpc(s2, 'host.get_enabled', sess, host), false)
      await assert.rejects(rpc(s2, 'VM.start', sess, s2.vm('guest').ref, false, false), { code: 'NO_HOSTS_AVAILABLE' })
      await assert.rejects(rpc(s2, 'VM.start_on', sess, s2.vm('guest').ref, host, false, false), {
        code: 'HOST_DISABLED',
        params: [host],
      })
      await rpc(s2, 'host.enable', sess, host)
      assert.equal(await rpc(s2, 'host.get_enabled', sess, host), true)
      await rpc(s2, 'host.disable', sess, host)
      assert.equal(s2.record('host', host).enabled, false)
    } finally {
      await s2.stop()
    }
  })
})
