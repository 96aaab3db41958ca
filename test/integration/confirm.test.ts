// Confirm or revert: `apply confirm=N` undoes itself unless `confirm` comes in time, run by a
// detached process that outlives the call, its caller, and is itself replaced by the next
// call when killed. Every assertion compares `ip -j` snapshots and sysctls with the ones
// taken before the apply; waits are bounded waits for observed state, never durations.

import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { execa } from 'execa'
import { callOk, callPlugin, parseReply, runByHand, runPluginXml, xapiEncodedCall } from '../helpers/host-plugin.ts'
import { FULL_APPLY, FW4, PREVIOUS4, defaultRoutes, kernelSnapshot, readSysctl, withTopology } from './topology.ts'

const SYSCTLS = [
  'net.ipv4.conf.xapi1.proxy_arp',
  'net.ipv4.conf.xapi1.forwarding',
  'net.ipv6.conf.xapi1.forwarding',
  'net.ipv4.conf.xapi1.promote_secondaries',
]

interface Handle {
  token: string
  deadline: string
  seconds: number
}
interface Revert {
  token: string
  revertedAt: string
  by: string
  reason: string
  bridges: string[]
}
interface StateFile {
  bridges: Record<string, { addresses: string[] }>
  confirmation?: Handle & { worker?: number }
  lastRevert?: Revert
}

async function snapshot(ns: string) {
  const sysctls: Record<string, string> = {}
  for (const key of SYSCTLS) sysctls[key] = await readSysctl(ns, key)
  return { ...(await kernelSnapshot(ns)), sysctls }
}

const readState = (root: string): StateFile =>
  JSON.parse(readFileSync(join(root, 'var/lib/vif-ip-binder/state.json'), 'utf8')) as StateFile

/** Waits (bounded) until the state file satisfies `ready`; returns it. */
async function stateWhen(root: string, ready: (state: StateFile) => boolean, what: string): Promise<StateFile> {
  const limit = Date.now() + 60_000
  for (;;) {
    const state = readState(root)
    if (ready(state)) return state
    if (Date.now() > limit) throw new Error(`state never showed ${what}: ${JSON.stringify(state)}`)
    await sleep(100)
  }
}

const running = (pid: number | undefined) => pid !== undefined && existsSync(`/proc/${pid}`)

async function gone(pid: number | undefined): Promise<void> {
  const limit = Date.now() + 60_000
  while (running(pid)) {
    if (Date.now() > limit) throw new Error(`process ${pid} still running`)
    await sleep(100)
  }
}

test('apply confirm=3 and no confirm: every ip -j snapshot and sysctl is back as before, the replaced default route too', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await snapshot(dom0)
    const value = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', { ...FULL_APPLY, confirm: '3' })
    assert.equal(value.confirmation.seconds, 3)
    assert.match(value.confirmation.deadline, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', gateway: FW4, dev: 'xapi1', metric: 100 }])
    const pending = await callOk<{ confirmation?: Handle & { workerRunning: boolean } }>(dom0, root, 'status')
    assert.equal(pending.confirmation?.token, value.confirmation.token)
    assert.equal(pending.confirmation?.deadline, value.confirmation.deadline)
    assert.equal(pending.confirmation?.workerRunning, true)

    const state = await stateWhen(root, s => !!s.lastRevert, 'a revert')
    assert.equal(state.lastRevert?.by, 'deadline', 'the detached process reverted it')
    assert.equal(state.lastRevert?.token, value.confirmation.token)
    assert.deepEqual(await snapshot(dom0), before)
    assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
    assert.deepEqual(state.bridges, {}, 'nothing recorded any more')
    const status = await callOk<{ confirmation?: unknown; lastRevert?: Revert }>(dom0, root, 'status')
    assert.equal(status.confirmation, undefined)
    assert.deepEqual(status.lastRevert?.bridges, ['xapi1'])
  }))

test('confirm in time: nothing reverts, and confirming again answers the same', () =>
  withTopology(async ({ dom0, root }) => {
    const value = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', { ...FULL_APPLY, confirm: '10' })
    const after = await snapshot(dom0)
    const worker = readState(root).confirmation?.worker
    assert.ok(running(worker), 'a revert process waits for the deadline')
    const confirmed = await callOk<{ confirmed: boolean; bridges: string[] }>(dom0, root, 'confirm', {
      token: value.confirmation.token,
    })
    assert.deepEqual([confirmed.confirmed, confirmed.bridges], [true, ['xapi1']])
    await gone(worker) // it wakes at the deadline, finds nothing to revert and exits
    assert.equal(readState(root).lastRevert, undefined)
    assert.deepEqual(await snapshot(dom0), after)
    // A caller that lost the answer asks again: the same answer.
    const again = await callOk<{ confirmedAt: string }>(dom0, root, 'confirm', { token: value.confirmation.token })
    assert.deepEqual(again, confirmed)
    const other = '0f0e0d0c-0b0a-4998-8776-655443322110'
    const unknown = await callPlugin(dom0, root, 'confirm', { token: other })
    assert.equal(unknown.status, 'Failure')
    if (unknown.status === 'Failure') {
      assert.equal(unknown.errorDescription[0], 'VIF_IP_BINDER_NO_SUCH_CONFIRMATION')
      assert.ok(unknown.errorDescription.includes(other))
    }
  }))

test('the caller killed during the apply: the change still reverts', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await snapshot(dom0)
    // A silent gateway keeps the call in its check, where it is killed with its addresses added.
    const slow = { ...FULL_APPLY, gateway: '192.0.2.254', 'gateway-check': '30', confirm: '3' }
    const killed = await runPluginXml(dom0, xapiEncodedCall('apply', slow), { root, killAfterMs: 1500 })
    assert.equal(killed.signal, 'SIGKILL')
    assert.notDeepEqual(await snapshot(dom0), before, 'the killed call had changed the kernel')
    const state = await stateWhen(root, s => !!s.lastRevert, 'a revert')
    assert.equal(state.lastRevert?.by, 'deadline')
    assert.deepEqual(await snapshot(dom0), before)
  }))

test('the revert process killed with -9: status says so, the next call reverts and converges', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await snapshot(dom0)
    const value = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', { ...FULL_APPLY, confirm: '10' })
    const worker = readState(root).confirmation?.worker
    process.kill(worker!, 'SIGKILL')
    await gone(worker)
    const orphaned = await callOk<{ confirmation?: { workerRunning: boolean } }>(dom0, root, 'status')
    assert.equal(orphaned.confirmation?.workerRunning, false)
    while (Date.now() <= Date.parse(value.confirmation.deadline)) await sleep(100)
    assert.equal(readState(root).lastRevert, undefined, 'nobody reverted at the deadline')

    const status = await callOk<{ lastRevert?: Revert; bridges: object }>(dom0, root, 'status')
    assert.equal(status.lastRevert?.by, 'overdue')
    assert.match(status.lastRevert!.reason, new RegExp(`pid ${worker}\\) was not running`))
    assert.deepEqual(status.bridges, {})
    assert.deepEqual(await snapshot(dom0), before)
    await callOk(dom0, root, 'apply', FULL_APPLY)
    const converged = await callOk<{ bridges: Record<string, { inSync: boolean }> }>(dom0, root, 'status')
    assert.equal(converged.bridges.xapi1?.inSync, true)
  }))

test('a second apply in the window joins it: one token, a later deadline, and the revert goes back to before the first', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await snapshot(dom0)
    const first = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', { ...FULL_APPLY, confirm: '6' })
    const second = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', {
      ...FULL_APPLY,
      addresses: '192.0.2.3/24,2001:db8:77::3/64',
      'management-address': '192.0.2.3',
      confirm: '9',
    })
    assert.equal(second.confirmation.token, first.confirmation.token)
    assert.ok(Date.parse(second.confirmation.deadline) > Date.parse(first.confirmation.deadline))
    const state = await stateWhen(root, s => !!s.lastRevert, 'a revert')
    assert.ok(Date.parse(state.lastRevert!.revertedAt) >= Date.parse(second.confirmation.deadline))
    assert.deepEqual(await snapshot(dom0), before)
  }))

test('boot reverts a change left unconfirmed, before anything else', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await snapshot(dom0)
    await callOk(dom0, root, 'apply', { ...FULL_APPLY, confirm: '600' })
    const worker = readState(root).confirmation?.worker
    process.kill(worker!, 'SIGKILL') // the reboot took it
    await gone(worker)
    // No xapi here: boot fails waiting for it, after the revert.
    const booted = await runByHand(dom0, root, ['boot', 'wait=0'])
    assert.match(booted.stderr, /XAPI_UNREACHABLE/)
    assert.equal(readState(root).lastRevert?.by, 'boot')
    assert.deepEqual(await snapshot(dom0), before)
  }))

test('a bad confirm is refused, naming it, and nothing changes', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await snapshot(dom0)
    for (const bad of ['abc', '3601', '-1', '1.5']) {
      const reply = await callPlugin(dom0, root, 'apply', { ...FULL_APPLY, confirm: bad })
      assert.equal(reply.status, 'Failure')
      if (reply.status === 'Failure') {
        assert.equal(reply.errorDescription[0], 'VIF_IP_BINDER_INVALID_ARGUMENT')
        assert.match(reply.errorDescription[1]!, /^confirm: /)
      }
    }
    const unknown = await callPlugin(dom0, root, 'confirm', { token: '00000000-0000-4000-8000-000000000000' })
    assert.equal(unknown.status === 'Failure' && unknown.errorDescription[0], 'VIF_IP_BINDER_NO_SUCH_CONFIRMATION')
    assert.deepEqual(await snapshot(dom0), before)
  }))

test('a route given a new next hop in the window comes back as it was', () =>
  withTopology(async ({ dom0, root }) => {
    await callOk(dom0, root, 'apply', FULL_APPLY)
    const before = await snapshot(dom0)
    // The same destination, now on the link: the plan replaces the route it owns.
    const changed = { ...FULL_APPLY, routes: '192.0.2.200,198.51.100.0/24', confirm: '2' }
    const value = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', changed)
    assert.notDeepEqual(await snapshot(dom0), before, 'the route changed')
    const state = await stateWhen(root, s => s.lastRevert?.token === value.confirmation.token, 'the revert')
    assert.equal(state.lastRevert?.by, 'deadline')
    assert.deepEqual(await snapshot(dom0), before)
  }))

test('the revert outwaits a call that holds the host lock past the deadline', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await snapshot(dom0)
    // Calls give up on the lock after 1 s here; the revert process inherits that.
    const run = await runPluginXml(dom0, xapiEncodedCall('apply', { ...FULL_APPLY, confirm: '8' }), {
      root,
      extraEnv: { VIF_IP_BINDER_LOCK_WAIT_SECONDS: '1' },
    })
    const value = (await parseReply(run.stdout)) as { status: string; value: { confirmation: Handle } }
    assert.equal(value.status, 'Success', run.stdout)
    const { token, deadline } = value.value.confirmation
    const worker = readState(root).confirmation?.worker
    const lock = join(root, 'var/run/vif-ip-binder.lock')
    const holder = execa('flock', [lock, 'sleep', '14'])
    const held = async () => (await execa('flock', ['-n', lock, 'true'], { reject: false })).exitCode !== 0
    for (let i = 0; i < 200 && !(await held()); i++) await sleep(50)
    assert.ok(Date.now() < Date.parse(deadline), 'the lock was taken before the deadline (the premise of this test)')
    await stateWhen(root, () => Date.now() > Date.parse(deadline) + 4000, "the lock held past a call's wait")
    assert.equal(readState(root).lastRevert, undefined, 'nothing reverted while the lock was held')
    assert.ok(running(worker), 'the revert process still waits for the lock')
    await holder
    const state = await stateWhen(root, s => s.lastRevert?.token === token, 'the revert')
    assert.equal(state.lastRevert?.by, 'deadline', 'reverted by the process that waited')
    assert.deepEqual(await snapshot(dom0), before)
  }))

test('a release in the window reverts the unconfirmed change first, then gives back what was there before it', () =>
  withTopology(async ({ dom0, root }) => {
    await callOk(dom0, root, 'apply', FULL_APPLY)
    const changed = {
      ...FULL_APPLY,
      addresses: '192.0.2.3/24',
      gateway: FW4,
      'management-address': '192.0.2.3',
      confirm: '60',
    }
    await callOk(dom0, root, 'apply', changed)
    await callOk(dom0, root, 'release', { bridge: 'xapi1' })
    const state = readState(root)
    assert.equal(state.confirmation, undefined, 'no revert left to run later')
    assert.equal(state.lastRevert?.by, 'release')
    assert.deepEqual(state.bridges, {}, 'nothing recorded')
    const after = await kernelSnapshot(dom0)
    assert.doesNotMatch(JSON.stringify(after), /192\.0\.2\.[23]\b/, 'neither address is left')
    assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', ...PREVIOUS4 }])
  }))
