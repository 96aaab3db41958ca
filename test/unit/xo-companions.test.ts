// Which bindings of a host Xen Orchestra sends together in one apply-many: those waiting in
// the host's queue, except a change that needs a confirmation window. Sent as a companion it
// would be applied without one (apply-many's window is the whole call's), and a change that
// cuts the host off would stay.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode } from '../../shared/errors.ts'
import { type PluginArgs, canonicalArgs } from '../../shared/plugin-args.ts'
import { POOL_HOLDS_KEY, encodePoolHolds, hostIndependentText, noPoolHolds, withHold } from '../../shared/pool-holds.ts'
import { PROTOCOL_VERSION } from '../../shared/version.ts'
import { CallQueue } from '../../xo-plugin/call-queue.ts'
import { Converger } from '../../xo-plugin/converger.ts'
import type { DesiredBinding } from '../../xo-plugin/desired.ts'
import { HostPluginClient } from '../../xo-plugin/host-plugin.ts'
import type { XapiConnection } from '../../xo-plugin/xapi-types.ts'
import { RecordingLogger } from './xo-fakes.ts'

const HOST = { poolId: 'pool', hostRef: 'OpaqueRef:host1', hostUuid: 'host1-uuid', hostName: 'host1' }

/**
 * The host plugin's answers, from what it holds per bridge (its state file), and every call
 * Xen Orchestra made, in order. apply-many's refuse-changes is the host's change guard.
 */
class RecordingClient extends HostPluginClient {
  readonly calls: { fn: string; args: PluginArgs }[] = []
  readonly holds = new Map<string, PluginArgs>()

  override async call<T>(_xapi: XapiConnection, _hostRef: string, fn: string, args: PluginArgs = {}): Promise<T> {
    if (fn === 'version') return { name: 'vif-ip-binder', version: '9.9.9', protocol: PROTOCOL_VERSION } as T
    this.calls.push({ fn, args })
    if (fn === 'release') return { bridge: args.bridge, released: this.holds.delete(args.bridge!), changes: [] } as T
    if (fn === 'apply-many') {
      const requests = JSON.parse(args.requests!) as PluginArgs[]
      const results = requests.map(request => this.applied(request, args['refuse-changes'] === 'true'))
      return { results, holds: Object.fromEntries(this.holds) } as T
    }
    const { confirm, ...request } = args
    const confirmation = confirm ? { token: `token-${args.bridge}`, deadline: '', seconds: 45 } : undefined
    return { ...this.applied(request, false), ...(confirmation ? { confirmation } : {}) } as T
  }

  private applied(request: PluginArgs, refuseChanges: boolean) {
    const held = this.holds.get(request.bridge!)
    if (refuseChanges && held && canonicalArgs(held) !== canonicalArgs(request)) {
      const errorDescription = [ErrorCode.NEEDS_CONFIRMATION, 'holds other arguments', request.bridge!, 'changed']
      return { ok: false, bridge: request.bridge, errorDescription: [...errorDescription, JSON.stringify(held)] }
    }
    this.holds.set(request.bridge!, request)
    return { ok: true, bridge: request.bridge, changes: [], gatewayChecks: [] }
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

function startConverger(client: RecordingClient, xapi: object = {}) {
  const queue = new CallQueue({
    concurrency: 1,
    timeoutMs: 2000,
    retries: 0,
    backoffMs: 1,
    maxBackoffMs: 1,
    isTransient: () => false,
  })
  const converger = new Converger(queue, client, () => xapi as XapiConnection, new RecordingLogger())
  converger.confirmSeconds = () => 45
  const confirmed: string[] = []
  converger.confirmChange = async (_target, token) => void confirmed.push(token)
  const converged = async () => {
    await queue.idle()
    converger.close()
    queue.close()
    return { calls: client.calls, confirmed }
  }
  return { converger, converged, queue }
}

const wanted = [target('xapi2', '198.51.100.2/24'), target('xapi1', '192.0.2.3/24')]
const targets = (list: DesiredBinding[]) => new Map(list.map(t => [t.key, t]))

/**
 * xapi2 is new on the host (no window needed) and comes first in the queue; xapi1 is new
 * too, or holds other arguments than the ones wanted now (a change: it needs a window).
 */
async function converge(xapi1Holds: PluginArgs | null) {
  const client = new RecordingClient()
  if (xapi1Holds) client.holds.set('xapi1', xapi1Holds)
  const { converger, converged } = startConverger(client)
  converger.learn(HOST, 'xapi2', null)
  converger.learn(HOST, 'xapi1', xapi1Holds)
  converger.setTargets('pool', targets(wanted))
  return converged()
}

const REFUSE = { 'refuse-changes': 'true' }

test('a change that needs a confirmation window is not sent along in another binding’s apply-many', async () => {
  const { calls, confirmed } = await converge({ bridge: 'xapi1', addresses: '192.0.2.2/24' })
  assert.deepEqual(calls, [
    { fn: 'apply-many', args: { requests: JSON.stringify([wanted[0]!.args]), ...REFUSE } },
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
        ...REFUSE,
      },
    },
  ])
})

test('after a reconnection, what the host holds is learned from its apply-many: a change it refuses gets a window', async () => {
  // Xen Orchestra restarted: it knows nothing; the host holds another address on xapi1.
  const client = new RecordingClient()
  client.holds.set('xapi1', { bridge: 'xapi1', addresses: '192.0.2.2/24' })
  const { converger, converged } = startConverger(client)
  converger.doubt('pool')
  converger.setTargets('pool', targets(wanted))
  const { calls, confirmed } = await converged()
  assert.deepEqual(calls, [
    { fn: 'apply-many', args: { requests: JSON.stringify(wanted.map(t => t.args)), ...REFUSE } },
    { fn: 'apply', args: { bridge: 'xapi1', addresses: '192.0.2.3/24', confirm: '45' } },
  ])
  assert.deepEqual(confirmed, ['token-xapi1'], 'the change was confirmed through the host')
  assert.deepEqual(client.holds.get('xapi1'), wanted[1]!.args)
})

test('after a reconnection, a target the host holds already is sent once, and a bound bridge it no longer needs is released', async () => {
  const client = new RecordingClient()
  const { converger, converged, queue } = startConverger(client)
  // Both applied before the disconnection; then xapi1's VM went away while XO was not looking.
  converger.setTargets('pool', targets(wanted))
  await queue.idle()
  converger.ownsBridge = (_pool, bridge) => bridge !== 'xapi9'
  client.holds.set('xapi3', { bridge: 'xapi3', addresses: '203.0.113.2/24' }) // a bridge of the configuration
  client.holds.set('xapi9', { bridge: 'xapi9', addresses: '203.0.113.9/24' }) // the admin's own binding
  const before = [...client.calls]
  converger.doubt('pool')
  converger.setTargets('pool', targets([wanted[0]!]))
  const { calls } = await converged()
  assert.deepEqual(calls.slice(before.length), [
    { fn: 'apply-many', args: { requests: JSON.stringify([wanted[0]!.args]), ...REFUSE } },
    { fn: 'release', args: { bridge: 'xapi1' } },
    { fn: 'release', args: { bridge: 'xapi3' } },
  ])
  assert.deepEqual([...client.holds.keys()], ['xapi2', 'xapi9'], 'what is not ours stays')
})

test('a target a host reverted is applied with a window on any other host of the pool, until it changes', async () => {
  const client = new RecordingClient()
  const { converger, converged, queue } = startConverger(client)
  converger.confirmChange = async () => {
    throw new Error('host1 unreachable on a new connection')
  }
  const first = target('xapi1', '192.0.2.3/24')
  converger.setTargets('pool', targets([first]), true)
  await queue.idle()
  // The firewall VM starts on host2: the same binding, another host of the pool.
  const HOST2 = { ...HOST, hostRef: 'OpaqueRef:host2', hostUuid: 'host2-uuid', hostName: 'host2' }
  const moved = { ...first, ...HOST2, key: `${HOST2.hostUuid}/xapi1` }
  converger.setTargets('pool', targets([moved]))
  await queue.idle()
  const changed = { ...moved, args: { bridge: 'xapi1', addresses: '192.0.2.4/24' } }
  converger.setTargets('pool', targets([changed]))
  const { calls } = await converged()
  assert.deepEqual(
    calls.map(c => [c.fn, c.args.confirm ?? c.args['refuse-changes']]),
    [
      ['apply', '45'],
      ['apply', '45'],
      ['apply-many', 'true'],
    ],
    'host1 with a window (reverted), host2 with a window too, then a new target as usual',
  )
})

test("a target the pool's holds name (a host reverted it, whoever applied it) is applied with a window", async () => {
  const client = new RecordingClient()
  const held = target('xapi1', '192.0.2.3/24')
  const hold = { arguments: hostIndependentText(held.args), host: 'host1-uuid', at: '2026-12-02T07:00:00.000Z' }
  const holds = encodePoolHolds(withHold(noPoolHolds(), 'network-uuid', hold))
  const { converger, converged } = startConverger(client, { pool: { other_config: { [POOL_HOLDS_KEY]: holds } } })
  converger.doubt('pool')
  converger.setTargets('pool', targets([held, wanted[0]!]))
  const { calls, confirmed } = await converged()
  assert.deepEqual(
    calls.map(c => [
      c.fn,
      c.args.bridge ??
        JSON.parse(c.args.requests!)
          .map((r: PluginArgs) => r.bridge)
          .join(),
    ]),
    [
      ['apply', 'xapi1'],
      ['apply-many', 'xapi2'],
    ],
  )
  assert.equal(calls[0]!.args.confirm, '45')
  assert.deepEqual(confirmed, ['token-xapi1'])
})
