// The new connection that confirms a change: made with the xen-api client class under
// xo-server's subclasses (whose constructors need xo-server's own options), to the host's
// address with the pool connection's protocol, port, credentials and TLS choice.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { confirmThroughHost, hostUrl } from '../../xo-plugin/host-connection.ts'
import type { XapiConnection } from '../../xo-plugin/xapi-types.ts'

const made: object[] = []
const calls: unknown[][] = []

class Client {
  constructor(options: object) {
    made.push(options)
  }
  async connect() {}
  async disconnect() {}
  async call(method: string, ...args: unknown[]) {
    calls.push([method, ...args])
    return method === 'host.get_by_uuid' ? 'OpaqueRef:host' : '{"confirmed":true}'
  }
}

/** As xo-server's Xapi: refuses to be built without its own options. */
class XoServerXapi extends Client {
  constructor({ restartHostTimeout, ...options }: { restartHostTimeout?: string }) {
    if (restartHostTimeout === undefined) throw new TypeError('not a valid duration')
    super(options)
  }
}

const pool = Object.assign(Object.create(XoServerXapi.prototype) as XapiConnection, {
  _url: { protocol: 'https:', port: '8443', hostname: 'master.example' },
  _auth: { user: 'root', password: 'secret' },
  _allowUnauthorized: true,
})

test("the host's address with the pool connection's protocol and port; IPv6 in brackets; a mapped address as given", () => {
  assert.equal(hostUrl(pool, '192.0.2.7'), 'https://192.0.2.7:8443')
  assert.equal(hostUrl(pool, '2001:db8::7'), 'https://[2001:db8::7]:8443')
  assert.equal(hostUrl(pool, '192.0.2.7', { '192.0.2.7': 'http://127.0.0.1:9000' }), 'http://127.0.0.1:9000')
})

test('the master by the name Xen Orchestra reaches the pool by, not its xapi address (NAT, DNS); a mapping still wins', () => {
  assert.equal(hostUrl(pool, '10.0.0.1', {}, true), 'https://master.example:8443')
  assert.equal(hostUrl(pool, '10.0.0.1', { '10.0.0.1': 'http://127.0.0.1:9000' }, true), 'http://127.0.0.1:9000')
})

test('confirms through a new xen-api client, not the pool connection, with its credentials', async () => {
  const deadline = new Date(Date.now() + 60_000).toISOString()
  await confirmThroughHost(pool, { uuid: 'host-uuid', address: '192.0.2.7' }, 'the-token', deadline)
  assert.deepEqual(made, [
    {
      url: 'https://192.0.2.7:8443',
      auth: { user: 'root', password: 'secret' },
      allowUnauthorized: true,
      watchEvents: false,
    },
  ])
  assert.deepEqual(calls, [
    ['host.get_by_uuid', 'host-uuid'],
    ['host.call_plugin', 'OpaqueRef:host', 'vif-ip-binder', 'confirm', { token: 'the-token' }],
  ])
})

test('a failed confirmation names the URL it tried and what went wrong there, not only a code', async () => {
  class Unreachable extends Client {
    override async connect() {
      throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })
    }
  }
  const cutOff = Object.assign(Object.create(Unreachable.prototype) as XapiConnection, {
    _url: { protocol: 'https:', port: '8443', hostname: 'master.example' },
    _auth: { user: 'root', password: 'secret' },
  })
  const told: string[] = []
  const deadline = new Date(Date.now() + 2500).toISOString()
  const reason = 'new connection to https://192.0.2.7:8443: other side closed (UND_ERR_SOCKET)'
  await assert.rejects(
    confirmThroughHost(cutOff, { uuid: 'host-uuid', address: '192.0.2.7' }, 'the-token', deadline, {}, r =>
      told.push(r),
    ),
    { message: reason },
  )
  assert.deepEqual(told, [reason])
})
