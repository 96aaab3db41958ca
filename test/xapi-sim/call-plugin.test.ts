// host.call_plugin: the real built host plugin installed in a simulated host root, and
// every row of xapi's plugin-outcome mapping with small throwaway plugins (Node scripts
// with an absolute shebang, since a plugin only gets PATH=/sbin:/usr/sbin:/bin:/usr/bin).

import assert from 'node:assert/strict'
import { existsSync, readlinkSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { decodeMethodCall } from '../../shared/xmlrpc.ts'
import { ipJson } from '../helpers/netns.ts'
import { FIREWALL_POOL } from './scenarios/firewall-pool.ts'
import { BUILT_HOST_PLUGIN, type Simulator, startSimulator } from './simulator.ts'
import { login, rpc, waitUntil } from './test-helpers.ts'

const script = (body: string) => `#!${process.execPath}\n${body}\n`
const respond = (xml: string) => script(`process.stdout.write(${JSON.stringify(xml)})`)

describe('host.call_plugin', () => {
  let sim: Simulator
  let session: string
  let host1: string

  before(async () => {
    assert.ok(existsSync(BUILT_HOST_PLUGIN), 'npm run build first')
    sim = await startSimulator({ scenario: 'firewall-pool', hostPlugin: true })
    session = await login(sim)
    host1 = sim.host('host1').ref
  })
  after(async () => sim?.stop())

  it('installs the built plugin in every host root (a symlink, not a 100 MB copy)', () => {
    for (const h of sim.hosts) {
      assert.equal(readlinkSync(`${h.root}/etc/xapi.d/plugins/vif-ip-binder`), BUILT_HOST_PLUGIN)
    }
  })

  it('runs the real vif-ip-binder: version', async () => {
    const result = await rpc(sim, 'host.call_plugin', session, host1, 'vif-ip-binder', 'version', {})
    assert.equal(typeof result, 'string')
    const parsed = JSON.parse(result)
    assert.equal(parsed.name, 'vif-ip-binder')
    assert.equal(typeof parsed.version, 'string')
    assert.ok(
      sim.timeline.entries({ kind: 'plugin.finished', host: sim.host('host1').uuid }).some(e => e.detail?.ok === true),
    )
  })

  it('runs the real vif-ip-binder: apply on the firewall scenario private bridge', async () => {
    await sim.startVm(FIREWALL_POOL.firewallVm, 'host1')
    const ns = sim.host('host1').netns
    try {
      const result = await rpc(sim, 'host.call_plugin', session, host1, 'vif-ip-binder', 'apply', {
        bridge: FIREWALL_POOL.privateBridge,
        addresses: `${FIREWALL_POOL.hostAddresses[0]}/24`,
        gateway: FIREWALL_POOL.firewallPrivateAddress,
      })
      assert.equal(typeof result, 'string')
      const addrs = await ipJson<any[]>(ns, 'addr', 'show', 'dev', 'xapi0')
      assert.ok(addrs[0].addr_info.some((a: any) => a.local === FIREWALL_POOL.hostAddresses[0] && a.prefixlen === 24))
      const routes = await ipJson<any[]>(ns, 'route', 'show', 'default')
      assert.equal(routes[0]?.gateway, FIREWALL_POOL.firewallPrivateAddress)
      assert.equal(routes[0]?.dev, 'xapi0')
    } finally {
      await sim.shutdownVm(FIREWALL_POOL.firewallVm)
    }
  })

  it('unknown plugin → XENAPI_MISSING_PLUGIN (exact directory entry name)', async () => {
    await assert.rejects(rpc(sim, 'host.call_plugin', session, host1, 'nope', 'fn', {}), {
      code: 'XENAPI_MISSING_PLUGIN',
      params: ['nope'],
    })
    await sim.writePlugin('near.py', respond('x'), ['host1'])
    await assert.rejects(rpc(sim, 'host.call_plugin', session, host1, 'near', 'fn', {}), {
      code: 'XENAPI_MISSING_PLUGIN',
      params: ['near'],
    })
    // installed on host1 only
    await sim.writePlugin(
      'only-h1',
      respond(
        '<methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>hi</value></member></struct></value></param></params></methodResponse>',
      ),
      ['host1'],
    )
    assert.equal(await rpc(sim, 'host.call_plugin', session, host1, 'only-h1', 'fn', {}), 'hi')
    await assert.rejects(rpc(sim, 'host.call_plugin', session, sim.host('host2').ref, 'only-h1', 'fn', {}), {
      code: 'XENAPI_MISSING_PLUGIN',
    })
  })

  it('HANDLE_INVALID for a bad host ref', async () => {
    await assert.rejects(rpc(sim, 'host.call_plugin', session, 'OpaqueRef:x', 'vif-ip-binder', 'version', {}), {
      code: 'HANDLE_INVALID',
      params: ['host', 'OpaqueRef:x'],
    })
  })

  it("runs like xapi: argv[1] the <methodCall> in xapi's encoding, PATH + root only, stdin /dev/null, inside the host namespace", async () => {
    await sim.writePlugin(
      'echo',
      script(`
const fs = require('fs');
const report = {
  argv: process.argv.slice(2),
  env: process.env,
  stdin: fs.readlinkSync('/proc/self/fd/0'),
  links: fs.readdirSync('/sys/class/net').sort(),
};
const json = JSON.stringify(report).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
process.stdout.write('<methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>' + json + '</value></member></struct></value></param></params></methodResponse>');
`),
    )
    const report = JSON.parse(
      await rpc(sim, 'host.call_plugin', session, host1, 'echo', 'probe', { a: '1', 'b<&>': 'x y', empty: '' }),
    )
    assert.equal(report.argv.length, 1)
    const xml: string = report.argv[0]
    assert.ok(!xml.startsWith('<?xml'), 'no prolog')
    assert.match(
      xml,
      new RegExp(
        `^<methodCall><methodName>probe</methodName><params><param><value>${session}</value></param><param><value><struct>`,
      ),
    )
    assert.match(xml, /<member><name>empty<\/name><value\/><\/member>/)
    assert.match(xml, /<name>b&lt;&amp;&gt;<\/name><value>x y<\/value>/)
    assert.deepEqual(decodeMethodCall(xml).params, [session, { a: '1', 'b<&>': 'x y', empty: '' }])
    assert.deepEqual(report.env, { PATH: '/sbin:/usr/sbin:/bin:/usr/bin', VIF_IP_BINDER_ROOT: sim.host('host1').root })
    assert.equal(report.stdin, '/dev/null')
    assert.ok(report.links.includes('xenbr0') && report.links.includes('xenbr1'), `dom0 links: ${report.links}`)
    assert.ok(!report.links.includes('lan'))
  })

  const rows: { name: string; body: string; code: string; params: (p: string[]) => void }[] = [
    {
      name: 'non-zero exit',
      body: script(`process.stdout.write('out'); process.stderr.write('err'); process.exit(3)`),
      code: 'XENAPI_PLUGIN_FAILURE',
      params: p => assert.deepEqual(p, ['non-zero exit', 'out', 'err']),
    },
    {
      name: 'killed by a signal',
      body: script(`process.stdout.write('partial'); process.kill(process.pid, 'SIGKILL')`),
      code: 'XENAPI_PLUGIN_FAILURE',
      params: p => assert.deepEqual(p, ['signal: SIGKILL', 'partial', '']),
    },
    {
      name: 'garbage output',
      body: script(`process.stdout.write('this is not XML')`),
      code: 'XENAPI_PLUGIN_FAILURE',
      params: p => {
        assert.equal(p[0], 'failed to parse plugin output')
        assert.equal(p[1], 'this is not XML')
        assert.equal(p.length, 3)
      },
    },
    {
      name: 'a <fault> response',
      body: respond(
        '<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>42</int></value></member><member><name>faultString</name><value>boom</value></member></struct></value></fault></methodResponse>',
      ),
      code: 'XENAPI_PLUGIN_FAILURE',
      params: p => assert.deepEqual(p, ['fault', '42', 'boom']),
    },
    {
      name: 'a Failure struct, passed through verbatim',
      body: respond(
        '<methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data><value>VIB_BAD_ARGUMENT</value><value><string>bridge</string></value><value>no such bridge</value></data></array></value></member></struct></value></param></params></methodResponse>',
      ),
      code: 'VIB_BAD_ARGUMENT',
      params: p => assert.deepEqual(p, ['bridge', 'no such bridge']),
    },
    {
      name: 'a Success whose Value is not a string',
      body: respond(
        '<methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value><int>5</int></value></member></struct></value></param></params></methodResponse>',
      ),
      code: 'INTERNAL_ERROR',
      params: p => assert.equal(p.length, 1),
    },
  ]
  for (const row of rows) {
    it(`maps ${row.name}`, async () => {
      const name = `row-${row.name.replace(/[^a-z]+/g, '-')}`
      await sim.writePlugin(name, row.body, ['host1'])
      const error = await rpc(sim, 'host.call_plugin', session, host1, name, 'fn', {}).then(
        () => assert.fail('should have failed'),
        e => e,
      )
      assert.equal(error.code, row.code)
      row.params(error.params)
    })
  }

  it('Async.host.call_plugin: a task whose result is the XML-RPC value, or whose error_info is the error', async () => {
    const task = await rpc(sim, 'Async.host.call_plugin', session, host1, 'vif-ip-binder', 'version', {})
    assert.match(task, /^OpaqueRef:/)
    const done = await waitUntil('the task to finish', async () => {
      const r = await rpc(sim, 'task.get_record', session, task)
      return r.status !== 'pending' && r
    })
    assert.equal(done.status, 'success')
    assert.equal(done.name_label, 'Async.host.call_plugin')
    const m = /^<value>(.*)<\/value>$/.exec(done.result)
    assert.ok(m, done.result)
    assert.equal(JSON.parse(m[1]!).name, 'vif-ip-binder')

    const failing = await rpc(sim, 'Async.host.call_plugin', session, host1, 'missing', 'fn', {})
    const failed = await waitUntil('the task to fail', async () => {
      const r = await rpc(sim, 'task.get_record', session, failing)
      return r.status !== 'pending' && r
    })
    assert.equal(failed.status, 'failure')
    assert.deepEqual(failed.error_info, ['XENAPI_MISSING_PLUGIN', 'missing'])
    await rpc(sim, 'task.destroy', session, failing)
    await assert.rejects(rpc(sim, 'task.get_record', session, failing), { code: 'HANDLE_INVALID' })
  })
})
