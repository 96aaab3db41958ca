// Confirm or revert: `apply confirm=N` undoes itself unless `confirm` comes in time, run by a
// detached process that outlives the call, its caller, and is itself replaced by the next
// call when killed. Every assertion compares `ip -j` snapshots and sysctls with the ones
// taken before the apply; waits are bounded waits for observed state, never durations.

import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
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

const statePath = (root: string) => join(root, 'var/lib/vif-ip-binder/state.json')
const readState = (root: string): StateFile => JSON.parse(readFileSync(statePath(root), 'utf8')) as StateFile

/** Waits (bounded) until the state file satisfies `ready`; returns it. */
async function stateWhen(root: string, ready: (state: StateFile) => boolean, what: string): Promise<StateFile> {
  const limit = Date.now() + 60_000
  for (;;) {
    const state = existsSync(statePath(root)) ? readState(root) : undefined
    if (state && ready(state)) return state
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

/** apply confirm=seconds, then its revert process killed with -9. */
async function applyThenKillTheRevert(dom0: string, root: string, seconds: string) {
  const before = await snapshot(dom0)
  const value = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', { ...FULL_APPLY, confirm: seconds })
  const worker = readState(root).confirmation?.worker
  process.kill(worker!, 'SIGKILL')
  await gone(worker)
  return { before, value, worker }
}

test('the revert process killed with -9 and no call in the window: the next call reverts and converges', () =>
  withTopology(async ({ dom0, root }) => {
    const { before, value, worker } = await applyThenKillTheRevert(dom0, root, '4')
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

test('a revert process gone in the window, or its pid now another program: status starts a new one, which reverts', () =>
  withTopology(async ({ dom0, root }) => {
    const { before, value } = await applyThenKillTheRevert(dom0, root, '6')
    // The kernel gave its pid to another program: a live pid is not a live revert process.
    const impostor = execa('sleep', ['600'])
    try {
      const state = readState(root)
      writeFileSync(
        statePath(root),
        JSON.stringify({ ...state, confirmation: { ...state.confirmation, worker: impostor.pid } }),
      )
      const status = await callOk<{ confirmation?: { worker: number; workerRunning: boolean } }>(dom0, root, 'status')
      assert.equal(status.confirmation?.workerRunning, true)
      assert.notEqual(status.confirmation?.worker, impostor.pid, 'a revert process of its own')
      assert.ok(running(status.confirmation?.worker))
      const reverted = await stateWhen(root, s => !!s.lastRevert, 'a revert')
      assert.equal(reverted.lastRevert?.by, 'deadline', 'the new process reverted it')
      assert.equal(reverted.lastRevert?.token, value.confirmation.token)
      assert.deepEqual(await snapshot(dom0), before)
      assert.equal(impostor.exitCode, null, 'the other program was left alone')
    } finally {
      impostor.kill()
      await impostor.catch(() => undefined)
    }
  }))

test('where systemd-run cannot start the revert in a scope, it runs detached instead and reverts', () =>
  withTopology(async ({ dom0, root }) => {
    // As on a host run by systemd; here systemd-run fails (no bus), as it does for a unit name in use.
    mkdirSync(join(root, 'run/systemd/system'), { recursive: true })
    const before = await snapshot(dom0)
    const run = await runPluginXml(dom0, xapiEncodedCall('apply', { ...FULL_APPLY, confirm: '3' }), { root })
    const reply = await parseReply(run.stdout)
    assert.equal(reply.status, 'Success', run.stdout)
    const { token } = (reply as { value: { confirmation: Handle } }).value.confirmation
    const worker = readState(root).confirmation?.worker
    assert.ok(running(worker), 'a revert process waits for the deadline')
    assert.match(readFileSync(`/proc/${worker}/cmdline`, 'utf8'), new RegExp(`revert-worker\0token=${token}`))
    assert.match(run.stderr, /the revert process runs without a scope of its own: systemd-run ended/)
    const state = await stateWhen(root, s => !!s.lastRevert, 'a revert')
    assert.equal(state.lastRevert?.by, 'deadline')
    assert.deepEqual(await snapshot(dom0), before)
  }))

test('a second caller in the window gets its own token: the window is kept only once both confirm, and reverts to before the first', () =>
  withTopology(async ({ dom0, root }) => {
    const before = await snapshot(dom0)
    const first = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', { ...FULL_APPLY, confirm: '6' })
    const second = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', {
      ...FULL_APPLY,
      addresses: '192.0.2.3/24,2001:db8:77::3/64',
      'management-address': '192.0.2.3',
      confirm: '9',
    })
    assert.notEqual(second.confirmation.token, first.confirmation.token, 'a token of its own')
    assert.ok(Date.parse(second.confirmation.deadline) > Date.parse(first.confirmation.deadline))
    // A change without a window joins too, and is told the window is someone else's.
    const joined = await callOk<{ confirmation: Partial<Handle> }>(dom0, root, 'apply', {
      ...FULL_APPLY,
      addresses: '192.0.2.3/24,2001:db8:77::3/64',
      'management-address': '192.0.2.3',
      routes: '192.0.2.200',
    })
    assert.deepEqual(joined.confirmation, { deadline: second.confirmation.deadline, seconds: 0 })
    const mine = await callOk<{ othersUnconfirmed?: number }>(dom0, root, 'confirm', {
      token: first.confirmation.token,
    })
    assert.equal(mine.othersUnconfirmed, 1, "the second caller's change is not confirmed by the first")
    assert.equal(readState(root).confirmation?.deadline, second.confirmation.deadline, 'the window still waits')
    const state = await stateWhen(root, s => !!s.lastRevert, 'a revert')
    assert.deepEqual(state.lastRevert?.by, 'deadline')
    assert.ok(Date.parse(state.lastRevert!.revertedAt) >= Date.parse(second.confirmation.deadline))
    assert.deepEqual(await snapshot(dom0), before)
    const late = await callPlugin(dom0, root, 'confirm', { token: second.confirmation.token })
    assert.equal(late.status === 'Failure' && late.errorDescription[0], 'VIF_IP_BINDER_NO_SUCH_CONFIRMATION')
    assert.match(late.status === 'Failure' ? late.errorDescription[1]! : '', /was reverted at/)
  }))

test('both callers of a window confirm: the change is kept', () =>
  withTopology(async ({ dom0, root }) => {
    const first = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', { ...FULL_APPLY, confirm: '60' })
    const changed = { ...FULL_APPLY, routes: '192.0.2.200', confirm: '60' }
    const second = await callOk<{ confirmation: Handle }>(dom0, root, 'apply', changed)
    const after = await snapshot(dom0)
    const worker = readState(root).confirmation?.worker
    await callOk(dom0, root, 'confirm', { token: second.confirmation.token })
    const last = await callOk<{ othersUnconfirmed?: number }>(dom0, root, 'confirm', {
      token: first.confirmation.token,
    })
    assert.equal(last.othersUnconfirmed, undefined)
    assert.equal(readState(root).confirmation, undefined, 'nothing left to revert')
    process.kill(worker!, 'SIGTERM') // it would find nothing to revert at the deadline
    await gone(worker)
    assert.equal(readState(root).lastRevert, undefined)
    assert.deepEqual(await snapshot(dom0), after)
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

/** The kernel's boot id, as the plugin reads it under its root; changing it plays a restart. */
function setBootId(root: string, id: string): void {
  const path = join(root, 'proc/sys/kernel/random/boot_id')
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${id}\n`)
}

/** A flock on the host lock, held until killed; resolves once the lock is taken. */
async function holdLock(root: string) {
  const lock = join(root, 'var/run/vif-ip-binder.lock')
  mkdirSync(dirname(lock), { recursive: true })
  // Its own process group: flock's child holds the lock too, and goes with it.
  const holder = execa('flock', [lock, 'sleep', '600'], { reject: false, detached: true, stdio: 'ignore' })
  const held = async () => (await execa('flock', ['-n', lock, 'true'], { reject: false })).exitCode !== 0
  for (let i = 0; i < 200 && !(await held()); i++) await sleep(50)
  assert.ok(await held(), 'the lock is held')
  return {
    release: async () => {
      process.kill(-holder.pid!, 'SIGKILL')
      await holder
    },
  }
}

for (const reverter of ['its revert process', 'the next call'] as const) {
  test(`boot with the host lock busy goes on, and ${reverter} reverts the change left from before the restart`, () =>
    withTopology(async ({ dom0, root }) => {
      setBootId(root, 'e0c1c8a4-0000-4000-8000-000000000001')
      const before = await snapshot(dom0)
      await callOk(dom0, root, 'apply', { ...FULL_APPLY, confirm: '600' })
      const worker = readState(root).confirmation?.worker
      process.kill(worker!, 'SIGKILL') // the reboot took it
      await gone(worker)
      setBootId(root, 'e0c1c8a4-0000-4000-8000-000000000002')
      const lock = await holdLock(root)
      // No xapi here: boot fails waiting for it, which shows it went on past the busy lock.
      const booted = await runByHand(dom0, root, ['boot', 'wait=0'], { VIF_IP_BINDER_LOCK_WAIT_SECONDS: '1' })
      assert.doesNotMatch(booted.stderr, /BUSY/)
      assert.match(booted.stderr, /XAPI_UNREACHABLE/)
      const deferred = /boot: the host lock stayed busy.*revert process \(pid (\d+)\)/.exec(booted.stderr)
      assert.ok(deferred, booted.stderr)
      assert.equal(readState(root).lastRevert, undefined, 'nothing reverted while the lock was held')
      if (reverter === 'the next call') {
        process.kill(Number(deferred[1]), 'SIGKILL')
        await gone(Number(deferred[1]))
      }
      await lock.release()
      if (reverter === 'the next call') await callOk(dom0, root, 'status')
      const state = await stateWhen(root, s => !!s.lastRevert, 'the revert')
      assert.equal(state.lastRevert?.by, 'boot')
      assert.match(state.lastRevert!.reason, /the host restarted before the change was confirmed/)
      assert.deepEqual(await snapshot(dom0), before)
    }))
}

test('the window starts once the change is in place and verified: a slow gateway check does not shorten it', () =>
  withTopology(async ({ dom0, fw, root }) => {
    // The gateway answers only after the deadline the window had when it was armed.
    await execa('ip', ['-n', fw, 'addr', 'del', `${FW4}/24`, 'dev', 'eth0'])
    const call = callOk<{ confirmation: Handle }>(dom0, root, 'apply', {
      ...FULL_APPLY,
      gateway: FW4,
      'gateway-check': '60',
      confirm: '4',
    })
    call.catch(() => undefined) // awaited below; a failure before that must not go unhandled
    const armed = (await stateWhen(root, s => !!s.confirmation, 'the window armed')).confirmation!
    await stateWhen(root, () => Date.now() > Date.parse(armed.deadline) + 1000, 'the armed deadline passed')
    assert.equal(readState(root).lastRevert, undefined)
    await execa('ip', ['-n', fw, 'addr', 'add', `${FW4}/24`, 'dev', 'eth0'])
    const value = await call
    assert.ok(Date.parse(value.confirmation.deadline) > Date.parse(armed.deadline), 'the window started again')
    const confirmed = await callOk<{ confirmed: boolean }>(dom0, root, 'confirm', { token: value.confirmation.token })
    assert.equal(confirmed.confirmed, true)
    const state = readState(root)
    assert.equal(state.lastRevert, undefined, 'nothing was reverted')
    assert.deepEqual(await defaultRoutes(dom0, 4), [{ dst: 'default', gateway: FW4, dev: 'xapi1', metric: 100 }])
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
