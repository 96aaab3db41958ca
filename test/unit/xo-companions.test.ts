// Which bindings of a host Xen Orchestra sends together in one apply-many: those waiting in
// the host's queue, except a change that needs a confirmation window. Sent as a companion it
// would be applied without one (apply-many's window is the whole call's), and a change that
// cuts the host off would stay.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { PluginArgs } from '../../shared/plugin-args.ts'
import { PROTOCOL_VERSION } from '../../shared/version.ts'
import { CallQueue } from '../../xo-plugin/call-queue.ts'
import { Converger } from '../../xo-plugin/converger.ts'
import type { DesiredBinding } from '../../xo-plugin/desired.ts'
import { HostPluginClient } from '../../xo-plugin/host-plugin.ts'
import type { XapiConnection } from '../../xo-plugin/xapi-types.ts'
import { RecordingLogger } from './xo-fakes.ts'

const HOST = { poolId: 'pool', hostRef: 'OpaqueRef:host1', hostUuid: 'host1-uuid', hostName: 'host1' }

/** The host plugin's answers, and every call Xen Orchestra made, in order. */
class RecordingClient extends HostPluginClient {
  readonly calls: { fn: string; args: PluginArgs }[] = []

  override async call<T>(_xapi: XapiConnection, _hostRef: string, fn: string, args: PluginArgs = {}): Promise<T> {
    if (fn === 'version') return { name: 'vif-ip-binder', version: '9.9.9', protocol: PROTOCOL_VERSION } as T
    this.calls.push({ fn, args })
    const applied = (request: PluginArgs) => ({ ok: true, bridge: request.bridge, changes: [], gatewayChecks: [] })
    if (fn === 'apply-many') return { results: (JSON.parse(args.requests!) as PluginArgs[]).map(applied) } as T
    const confirmation = args.confirm ? { token: `token-${args.bridge}`, deadline: '', seconds: 45 } : undefined
    return { ...applied(args), ...(confirmation ? { confirmation } : {}) } as T
  }
}

const target = (bridge: string, address: string): DesiredBinding => ({
  ...HOST,
  key: `${HOST.hostUuid}/${bridge}`,
  bridge,
  args: { bridge, addresses: address },
  bindingIndex: 0,
  vmUuid: 'vm-uuid',
  srs: [],
})

/**
 * xapi2 is new on the host (no window needed) and comes first in the queue; xapi1 is new
 * too, or holds other arguments than the ones wanted now (a change: it needs a window).
 */
async function converge(xapi1Holds: PluginArgs | null) {
  const client = new RecordingClient()
  const queue = new CallQueue({
    concurrency: 1,
    timeoutMs: 2000,
    retries: 0,
    backoffMs: 1,
    maxBackoffMs: 1,
    isTransient: () => false,
  })
  const converger = new Converger(queue, client, () => ({}) as XapiConnection, new RecordingLogger())
  converger.confirmSeconds = () => 45
  const confirmed: string[] = []
  converger.confirmChange = async (_target, token) => void confirmed.push(token)
  converger.learn(HOST, 'xapi2', null)
  converger.learn(HOST, 'xapi1', xapi1Holds)
  const wanted = [target('xapi2', '198.51.100.2/24'), target('xapi1', '192.0.2.3/24')]
  converger.setTargets('pool', new Map(wanted.map(t => [t.key, t])))
  await queue.idle()
  converger.close()
  queue.close()
  return { calls: client.calls, confirmed }
}

test('a change that needs a confirmation window is not sent along in another binding’s apply-many', async () => {
  const { calls, confirmed } = await converge({ bridge: 'xapi1', addresses: '192.0.2.2/24' })
  assert.deepEqual(calls, [
    { fn: 'apply', args: { bridge: 'xapi2', addresses: '198.51.100.2/24' } },
    { fn: 'apply', args: { bridge: 'xapi1', addresses: '192.0.2.3/24', confirm: '45' } },
  ])
  assert.deepEqual(confirmed, ['token-xapi1'], 'confirmed through the host, as a change from a window is')
})

test('two bindings new on the host, neither needing a window, go in one apply-many', async () => {
  const { calls } = await converge(null)
  assert.deepEqual(calls, [
    {
      fn: 'apply-many',
      args: {
        requests: JSON.stringify([
          { bridge: 'xapi2', addresses: '198.51.100.2/24' },
          { bridge: 'xapi1', addresses: '192.0.2.3/24' },
        ]),
      },
    },
  ])
})
