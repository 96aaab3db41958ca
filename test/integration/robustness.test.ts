// One writer per host, a state that survives being killed, and a state file that can rot.

import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { execa } from 'execa'
import { callOk, callPlugin, parseReply, runPluginXml, xapiEncodedCall } from '../helpers/host-plugin.ts'
import { ip } from '../helpers/netns.ts'
import {
  DOM0_4,
  DOM0_6,
  FW4,
  FW6,
  PREVIOUS4,
  PREVIOUS6,
  addressesOf,
  defaultRoutes,
  ping,
  withTopology,
} from './topology.ts'

const APPLY = { bridge: 'xapi1', addresses: `${DOM0_4},${DOM0_6}`, gateway: `${FW4},${FW6}` }

const HOLD_LOCK = `
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
`

type Status = { bridges: Record<string, { inSync: boolean; drift: unknown[] }> }

test('10 concurrent applies serialise and end in the right state', () =>
  withTopology(async ({ dom0, root }) => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => callPlugin(dom0, root, 'apply', APPLY)))
    assert.deepEqual(
      replies.map(r => r.status),
      Array(10).fill('Success'),
      JSON.stringify(replies.filter(r => r.status === 'Failure')),
    )
    const changed = replies.filter(
      r => r.status === 'Success' && (r.value as { changes: unknown[] }).changes.length > 0,
    )
    assert.equal(changed.length, 1, 'exactly one call did the work; the others found it done')
    assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_6, DOM0_4].sort())
    assert.deepEqual(await defaultRoutes(dom0, 4), [
      { dst: 'default', gateway: FW4, dev: 'xapi1', metric: PREVIOUS4.metric },
    ])
    assert.deepEqual(await defaultRoutes(dom0, 6), [
      { dst: 'default', gateway: FW6, dev: 'xapi1', metric: PREVIOUS6.metric },
    ])
    const status = await callOk<Status>(dom0, root, 'status', { bridge: 'xapi1' })
    assert.equal(status.bridges.xapi1?.inSync, true)
  }))

test('a call killed mid-apply is followed by an apply that converges, and release still restores the first route', () =>
  withTopology(async ({ dom0, root }) => {
    // Killed during the gateway check: the addresses are in place, the default route not
    // switched yet (a silent gateway never gets it), the final record not written.
    const slow = { ...APPLY, gateway: '192.0.2.254', 'gateway-check': '30' }
    const killed = await runPluginXml(dom0, xapiEncodedCall('apply', slow), { root, killAfterMs: 1500 })
    assert.equal(killed.signal, 'SIGKILL')
    assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
    assert.ok((await addressesOf(dom0, 'xapi1')).length > 0, 'the addresses were added before the check')

    const value = await callOk<{ changes: { action: string }[] }>(dom0, root, 'apply', APPLY)
    assert.ok(value.changes.some(c => c.action === 'switch-default-route'))
    assert.deepEqual(await defaultRoutes(dom0, 4), [
      { dst: 'default', gateway: FW4, dev: 'xapi1', metric: PREVIOUS4.metric },
    ])
    assert.equal(await ping(dom0, FW4), true)
    const status = await callOk<Status>(dom0, root, 'status', { bridge: 'xapi1' })
    assert.equal(status.bridges.xapi1?.inSync, true)

    await callOk(dom0, root, 'release', { bridge: 'xapi1' })
    assert.deepEqual(
      await defaultRoutes(dom0, 4),
      [{ dst: 'default', ...PREVIOUS4 }],
      'the route from before the killed call',
    )
    assert.deepEqual(await defaultRoutes(dom0, 6), [{ dst: 'default', ...PREVIOUS6 }])
    assert.deepEqual(await addressesOf(dom0, 'xapi1'), [])
  }))

test('a waiter gives up with BUSY when the lock stays held', () =>
  withTopology(async ({ dom0, root }) => {
    const lockPath = join(root, 'var/run/vif-ip-binder.lock')
    mkdirSync(join(root, 'var/run'), { recursive: true })
    // Another process holding the same kernel lock, as a concurrent call would.
    const holder = execa('python3', ['-c', HOLD_LOCK, lockPath], { reject: false })
    try {
      await new Promise<void>(resolve => holder.stdout!.once('data', () => resolve()))
      const run = await runPluginXml(dom0, xapiEncodedCall('apply', APPLY), {
        root,
        extraEnv: { VIF_IP_BINDER_LOCK_WAIT_SECONDS: '1' },
      })
      const reply = await parseReply(run.stdout)
      assert.equal(reply.status === 'Failure' && reply.errorDescription[0], 'VIF_IP_BINDER_BUSY')
      assert.deepEqual(await addressesOf(dom0, 'xapi1'), [], 'nothing done while busy')
    } finally {
      holder.kill()
      await holder
    }
    await callOk(dom0, root, 'apply', APPLY)
    assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_6, DOM0_4].sort())
  }))

test('an unreadable state file is set aside and the call proceeds from the kernel state', () =>
  withTopology(async ({ dom0, root }) => {
    const stateDir = join(root, 'var/lib/vif-ip-binder')
    mkdirSync(stateDir, { recursive: true })
    writeFileSync(join(stateDir, 'state.json'), '{"version": 1, "bridges": {"xapi1": tru')
    await callOk(dom0, root, 'apply', APPLY)
    const files = readdirSync(stateDir).sort()
    assert.equal(files.length, 2, files.join(' '))
    assert.match(files[1]!, /^state\.json\.unreadable-/)
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'))
    assert.deepEqual(state.bridges.xapi1.addresses, [DOM0_4, DOM0_6])
    await ip(dom0, 'link', 'set', 'xapi1', 'down')
    await callOk(dom0, root, 'apply', APPLY)
    assert.match(await ip(dom0, 'link', 'show', 'xapi1'), /[<,]UP[,>]/, 'apply brings the bridge up')
  }))
