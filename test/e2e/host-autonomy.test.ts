// A host recovers on its own, with no Xen Orchestra at all: the host plugin installed with
// `install --root`, the bindings in pool.other_config as the XO plugin writes them, and
// xapi's vif-hotplug hook as the only trigger. Asserted on the hosts' kernel state, xapi
// records and pings.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { execa } from 'execa'
import { XAPI_PATH } from '../helpers/host-plugin.ts'
import { KernelWatch } from '../helpers/kernel-watch.ts'
import { FIREWALL_POOL as F, firewallPool } from '../xapi-sim/scenarios/firewall-pool.ts'
import { putLocalDb } from '../xapi-sim/local-db.ts'
import { type Simulator, startSimulator } from '../xapi-sim/simulator.ts'
import { login, rpc } from '../xapi-sim/test-helpers.ts'
import { ip, ipJson } from '../helpers/netns.ts'
import { type Harness, addresses, defaultRoute, pings, startHarness, waitFor } from './helpers.ts'
import { hostLog, installHostPlugin } from './standalone-hosts.ts'
import { autonomousPool, bootHost, disabledPool, pbdAttached, writePoolBindings } from './autonomous-pool.ts'

/** Stops the firewall VM on host1 and waits for the hook's release (the mirror gone). */
async function stopFirewall(sim: Simulator, session: string): Promise<void> {
  const host1 = sim.host('host1')
  await rpc(sim, 'VM.clean_shutdown', session, sim.vm(F.firewallVm).ref)
  await waitFor(
    'the mirror released',
    async () => !(await addresses(host1.netns)).xenbr0?.includes(`${F.hostAddresses[0]}/32`),
    20_000,
  )
}

describe('with no Xen Orchestra: the vif-hotplug hook', () => {
  let sim: Simulator
  let session: string
  before(async () => ({ sim, session } = await autonomousPool({})))
  after(() => sim?.stop())

  test('binds the addresses, switches the gateway and plugs the NFS SR once it becomes reachable', async () => {
    const host1 = sim.host('host1')
    assert.equal(pbdAttached(sim, 'host1'), false, 'the SR starts detached: its server is behind the firewall')
    const watch = new KernelWatch(host1.netns)
    try {
      await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, host1.ref, false, false)
      const routeAt = await watch.when(
        new RegExp(`^default via ${F.firewallPrivateAddress.replace(/\./g, '\\.')} dev ${F.privateBridge}`),
      )
      await waitFor('the PBD of host1 plugged', () => pbdAttached(sim, 'host1'), 30_000)

      const all = await addresses(host1.netns)
      assert.deepEqual(all[F.privateBridge], [`${F.hostAddresses[0]}/24`])
      assert.ok(all.xenbr0?.includes(`${F.hostAddresses[0]}/32`), 'management mirror')
      assert.equal(await defaultRoute(host1.netns), `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`)
      assert.equal(await pings(host1.netns, F.nfsServer), true)

      // The NFS server became reachable when the default route through the firewall
      // appeared in the kernel; the one plug came after that, never before (how soon after
      // is the storage-back benchmark's measure, not a test's).
      const plugged = sim.timeline.entries({ kind: 'pbd.plugged', host: host1.uuid })
      assert.equal(plugged.length, 1)
      assert.ok(plugged[0]!.at >= routeAt, 'the PBD plugged after the route through the firewall appeared')

      // The hook returned before the work was done: it only starts the worker.
      const hook = sim.timeline.entries({ kind: 'hotplug.finished', host: host1.uuid })[0]!
      assert.equal(hook.detail?.exitCode, 0)
      assert.ok(hook.at < routeAt, 'the hook finished before the default route was switched')
      assert.match(hostLog(sim, 'host1'), /vif-hotplug online: applied .*"vm":"[0-9a-f-]{36}","vif":"[0-9a-f-]{36}"/)
    } finally {
      watch.stop()
    }
  })

  test('the remove action releases: the addresses go, the mirror goes', async () => {
    const host1 = sim.host('host1')
    await stopFirewall(sim, session)
    assert.equal((await addresses(host1.netns))[F.privateBridge], undefined, 'the bridge went with its last VIF')
    assert.match(hostLog(sim, 'host1'), /vif-hotplug remove: released/)
  })

  test('once the index is written, the hook binds a restart itself, default route included, before it returns', async () => {
    const host1 = sim.host('host1')
    const index = JSON.parse(readFileSync(join(host1.root, 'var/lib/vif-ip-binder/hook-index.json'), 'utf8'))
    assert.ok(index.vms[sim.vm(F.firewallVm).uuid], 'the first start wrote the index')
    const watch = new KernelWatch(host1.netns)
    const logged = hostLog(sim, 'host1')
    try {
      const since = performance.timeOrigin + performance.now()
      await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, host1.ref, false, false)
      const escaped = F.hostAddresses[0].replace(/\./g, '\\.')
      const addressAt = await watch.when(new RegExp(`^(?!Deleted).*${F.privateBridge}\\s+inet ${escaped}/24`))
      const mirrorAt = await watch.when(new RegExp(`^(?!Deleted).*xenbr0\\s+inet ${escaped}/32`))
      await watch.when(
        new RegExp(`^default via ${F.firewallPrivateAddress.replace(/\./g, '\\.')} dev ${F.privateBridge}`),
      )
      const hook = sim.timeline.entries({ kind: 'hotplug.finished', host: host1.uuid }).filter(e => e.at >= since)[0]!
      assert.equal(hook.detail?.exitCode, 0)
      assert.ok(addressAt <= hook.at, 'the address was bound before the hook returned')
      assert.ok(mirrorAt <= hook.at, 'the mirror was bound before the hook returned')
      const order = watch
        .lines(/^(?!Deleted)(default via|.*inet 10\.77\.0\.2\/)/)
        .map(l => l.split(/\s+/).slice(0, 3).join(' '))
      assert.deepEqual(
        order.map(l => (l.startsWith('default') ? 'route' : 'address')),
        ['address', 'address', 'route'],
        `the addresses before the route that needs them:\n${order.join('\n')}`,
      )
      await waitFor(
        'the worker confirmed with xapi',
        () => hostLog(sim, 'host1').split('vif-hotplug online: applied').length > 2,
        20_000,
      )
      // The slot was empty (the route went with the bridge): the hook's switch displaced
      // nothing, so it did not wait for the gateway; its worker asked it, and changed nothing.
      const worker = hostLog(sim, 'host1').slice(logged.length)
      assert.doesNotMatch(worker, /info: applied \{"bridge":"xapi0"/, 'the worker found nothing left to bind')
      assert.doesNotMatch(worker, /given back/)
      assert.equal(await pings(host1.netns, F.nfsServer), true)
    } finally {
      watch.stop()
    }
  })

  test('a VIF no binding names costs no worker and no xapi login', async () => {
    const host1 = sim.host('host1')
    const logins: string[] = []
    const login = sim.sessions.login.bind(sim.sessions)
    sim.sessions.login = (...args) => (logins.push(args[0]), login(...args))
    try {
      const firewall = sim.vm(F.firewallVm).uuid
      const lanVif = sim.record('VIF', sim.vifs(F.firewallVm)['1']!).uuid as string
      const otherVm = '0f0e0d0c-0b0a-4998-8776-655443322110'
      const before = hostLog(sim, 'host1')
      for (const [vif, vm] of [
        [lanVif, firewall],
        [lanVif, otherVm],
      ]) {
        const hook = join(host1.root, 'etc/xapi.d/vif-hotplug')
        const env = ['env', '-i', `PATH=${XAPI_PATH}`, `VIF_IP_BINDER_ROOT=${host1.root}`]
        const result = await execa(
          'ip',
          ['netns', 'exec', host1.netns, ...env, hook, '-action', 'online', '-vifuuid', vif!, '-vmuuid', vm!],
          { reject: false },
        )
        assert.equal(result.exitCode, 0, result.stderr)
      }
      await new Promise(resolve => setTimeout(resolve, 500))
      assert.deepEqual(logins, [], 'no xapi login')
      // The previous test's worker may still be plugging SRs and logging: only lines about
      // these two events count. The hook logs each worker it starts, and a worker logs its event.
      const written = hostLog(sim, 'host1').slice(before.length)
      const about = written.split('\n').filter(line => line.includes(lanVif!) || line.includes(otherVm))
      assert.deepEqual(about, [], 'no worker started or wrote anything for these VIFs')
    } finally {
      sim.sessions.login = login
    }
  })

  test('the host lock held elsewhere: the hook does not wait for it in udev, its worker binds once it is free', async () => {
    const host1 = sim.host('host1')
    await stopFirewall(sim, session)
    // Another call holding the host's lock (flock on the same file) for longer than the hook waits.
    const holder = execa('flock', [join(host1.root, 'var/run/vif-ip-binder.lock'), 'sleep', '6'], { reject: false })
    let freedAt = Infinity
    void holder.then(() => (freedAt = performance.timeOrigin + performance.now()))
    const watch = new KernelWatch(host1.netns)
    try {
      await watch.ready()
      const since = performance.timeOrigin + performance.now()
      await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, host1.ref, false, false)
      const hook = sim.timeline.entries({ kind: 'hotplug.finished', host: host1.uuid }).filter(e => e.at >= since)[0]!
      assert.equal(hook.detail?.exitCode, 0)
      assert.ok(hook.at < freedAt, 'the hook returned while the lock was still held')
      const escaped = F.hostAddresses[0].replace(/\./g, '\\.')
      const addressAt = await watch.when(new RegExp(`^(?!Deleted).*${F.privateBridge}\\s+inet ${escaped}/24`))
      await holder
      assert.ok(addressAt >= freedAt, 'bound by the worker, once the lock was free')
      await waitFor('the binding', async () => (await defaultRoute(host1.netns)) !== 'none', 20_000)
    } finally {
      watch.stop()
      holder.kill()
    }
  })
})

describe('with no Xen Orchestra: a firewall slower to boot than the gateway check', () => {
  let sim: Simulator
  let session: string
  before(async () => {
    const scenario = firewallPool()
    // The firewall VM comes up without its address on dom0's network: it "boots" until the test gives it one.
    scenario.vms![0]!.guest!.addresses!['0'] = []
    sim = await startSimulator({ scenario, hostPlugin: false })
    session = await login(sim)
    await installHostPlugin(sim)
    await writePoolBindings(sim, session, { gatewayCheckSeconds: 1 })
  })
  after(() => sim?.stop())
  const firewallRoute = `default via ${F.firewallPrivateAddress} dev ${F.privateBridge} `
  /** The firewall gets its address on dom0's network (it has booted): wait for the default route through it. */
  const firewallAnswers = async () => {
    await ip(sim.vm(F.firewallVm).netns, 'addr', 'add', `${F.firewallPrivateAddress}/24`, 'dev', 'eth0')
    await waitFor(
      'the binding',
      async () =>
        (await defaultRoute(sim.host('host1').netns)) === `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`,
      40_000,
    )
  }

  test('the hook worker keeps trying over a 20 s firewall boot: its first switch undone, then one switch', async () => {
    const host1 = sim.host('host1')
    const watch = new KernelWatch(host1.netns)
    try {
      await watch.ready()
      const booting = Date.now()
      await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, host1.ref, false, false)
      await waitFor(
        'a failed gateway check and a retry',
        () => /gateway not answering yet, trying again/.test(hostLog(sim, 'host1')),
        20_000,
      )
      assert.equal(await defaultRoute(host1.netns), 'none', 'no default route to a firewall that does not answer')

      // The firewall answers 20 s after its VIF plugged: several checks fail meanwhile.
      await new Promise(resolve => setTimeout(resolve, Math.max(0, 20_000 - (Date.now() - booting))))
      await firewallAnswers()
      await waitFor('the PBD of host1 plugged', () => pbdAttached(sim, 'host1'), 30_000)
      assert.match(hostLog(sim, 'host1'), /vif-hotplug online: applied/)
      const retries = hostLog(sim, 'host1').match(/gateway not answering yet, trying again/g) ?? []
      assert.ok(retries.length >= 3, `the wait went through several failed checks (${retries.length})`)
      // The first try switched into the empty slot at once and undid it when the check
      // failed; the retries waited for the gateway's answer: no flapping while it booted.
      assert.deepEqual(watch.lines(/^(Deleted )?default /), [firewallRoute, `Deleted ${firewallRoute}`, firewallRoute])
    } finally {
      watch.stop()
    }
  })

  // From here on the hook has its index: it binds a restart itself.
  /** Stops the firewall, runs `prepare`, starts the firewall again, and `body` with the kernel's events since. */
  const restart = async (
    prepare: () => Promise<unknown>,
    body: (watch: KernelWatch, log: () => string) => Promise<void>,
  ) => {
    const host1 = sim.host('host1')
    await stopFirewall(sim, session)
    await prepare()
    const watch = new KernelWatch(host1.netns)
    try {
      await watch.ready()
      const logged = hostLog(sim, 'host1').length
      await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, host1.ref, false, false)
      await body(watch, () => hostLog(sim, 'host1').slice(logged))
    } finally {
      watch.stop()
    }
  }

  test("a restart: the hook's default route into the empty slot is given back while the firewall is silent", () =>
    restart(
      async () => assert.equal(await defaultRoute(sim.host('host1').netns), 'none'),
      async (watch, log) => {
        const host1 = sim.host('host1')
        await waitFor('the route given back', () => /given back/.test(log()), 20_000)
        assert.equal(await defaultRoute(host1.netns), 'none', 'the slot as it was: empty')
        assert.ok((await addresses(host1.netns)).xenbr0?.includes(`${F.hostAddresses[0]}/32`), 'the mirror stays')

        await firewallAnswers()
        // Switched by the hook, removed by its worker, switched again once the gateway answered.
        assert.deepEqual(watch.lines(/^(Deleted )?default /), [
          firewallRoute,
          `Deleted ${firewallRoute}`,
          firewallRoute,
        ])
      },
    ))

  test('a restart with a default route already in the slot: the hook never displaces it for a silent firewall', () =>
    restart(
      () => ip(sim.host('host1').netns, 'route', 'add', 'default', 'dev', 'xenbr0'),
      async (watch, log) => {
        const host1 = sim.host('host1')
        await waitFor('a failed gateway check', () => /gateway not answering yet/.test(log()), 20_000)
        assert.ok((await addresses(host1.netns))[F.privateBridge]?.includes(`${F.hostAddresses[0]}/24`))
        assert.equal(await defaultRoute(host1.netns), 'via - dev xenbr0', 'the route in place stays')

        await firewallAnswers()
        assert.deepEqual(watch.lines(/^(Deleted )?default /), [firewallRoute], 'one switch, once the gateway answered')
      },
    ))
})

describe('plug-srs', () => {
  let sim: Simulator
  let session: string
  before(async () => {
    sim = await startSimulator({ scenario: firewallPool() })
    session = await login(sim)
  })
  after(() => sim?.stop())

  async function plugSrs(args: Record<string, string>) {
    return rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'plug-srs', args).then(
      value => ({ ok: true as const, value: JSON.parse(value as string) }),
      error => ({ ok: false as const, error: error as { code: string; params: string[] } }),
    )
  }

  test('with the server unreachable, returns a per-SR failure when its timeout ends', async () => {
    const sr = sim.record('SR', F.srName).uuid as string
    const reply = await plugSrs({ srs: sr, timeout: '2' })
    assert.ok(reply.ok, JSON.stringify(reply))
    const [outcome] = reply.value.srs
    assert.equal(outcome.sr, sr)
    assert.equal(outcome.ok, false)
    assert.equal(outcome.probe.target, `tcp:${F.nfsServer}:2049`, 'derived from the NFS device_config')
    assert.equal(outcome.probe.reachable, false)
    assert.ok(outcome.probe.attempts >= 4, `probed fast: ${outcome.probe.attempts} attempts in 2 s`)
    assert.deepEqual(
      outcome.pbds.map((p: { outcome: string }) => p.outcome),
      ['unreachable'],
    )
    assert.equal(pbdAttached(sim, 'host1'), false)
  })

  test('a bad SR UUID gets a coded error', async () => {
    const malformed = await plugSrs({ srs: 'not-a-uuid' })
    assert.equal(malformed.ok, false)
    assert.equal(!malformed.ok && malformed.error.code, 'VIF_IP_BINDER_INVALID_ARGUMENT')
    assert.match(!malformed.ok ? malformed.error.params[0]! : '', /"not-a-uuid" is not a UUID/)

    const unknown = await plugSrs({ srs: '00000000-0000-4000-8000-000000000000' })
    assert.equal(!unknown.ok && unknown.error.code, 'VIF_IP_BINDER_NO_SUCH_SR')
  })
})

describe('boot with rescue on: a host that came up disabled', () => {
  let sim: Simulator
  before(async () => ({ sim } = await disabledPool(true)))
  after(() => sim?.stop())

  test('enables itself, starts the firewall VM first, then the auto-start VMs in order, and binds', async () => {
    assert.equal(sim.record('host', 'host1').enabled, false)
    const result = await bootHost(sim, 'host1')

    assert.equal(sim.record('host', 'host1').enabled, true)
    assert.equal(sim.record('host', 'host2').enabled, false, 'only the host that booted rescues itself')
    assert.equal(result.rescue.acted, true)
    const started = sim.timeline.entries({ kind: 'vm.started' })
    const names = started.map(e => sim.record('VM', e.vm!).name_label)
    assert.deepEqual(names, [F.firewallVm, 'db', 'app'])
    assert.ok(started[2]!.at - started[1]!.at >= 1000, "db's start_delay (1 s) was waited before app")
    assert.deepEqual(
      result.rescue.steps.map(s => [s.name, s.role, s.outcome]),
      [
        [F.firewallVm, 'bound', 'started'],
        // on-host2 (order 0) is host2's to start
        ['db', 'auto-start', 'started'],
        ['app', 'auto-start', 'started'],
      ],
    )
    const host1 = sim.host('host1')
    await waitFor(
      'host1 bound',
      async () => (await defaultRoute(host1.netns)) === `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`,
    )
    assert.deepEqual((await addresses(host1.netns))[F.privateBridge], [`${F.hostAddresses[0]}/24`])
    assert.equal(await pings(host1.netns, F.firewallPrivateAddress), true)
  })
})

describe('boot with rescue off', () => {
  let sim: Simulator
  before(async () => ({ sim } = await disabledPool(false)))
  after(() => sim?.stop())

  test('leaves a disabled host disabled and starts nothing', async () => {
    const result = await bootHost(sim, 'host1')
    assert.equal(result.rescue.acted, false)
    assert.match(result.rescue.reason, /rescue is off/)
    assert.equal(sim.record('host', 'host1').enabled, false)
    assert.deepEqual(sim.timeline.entries({ kind: 'vm.started' }), [])
    assert.deepEqual(result.reconcile.applied, [])
  })
})

describe('apply and release by network UUID, with the management bridge found by the host', () => {
  let sim: Simulator
  let session: string
  before(async () => {
    sim = await startSimulator({ scenario: firewallPool({ firewallRunning: true }) })
    session = await login(sim)
  })
  after(() => sim?.stop())

  const call = (fn: string, args: Record<string, string>) =>
    rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', fn, args).then(
      value => ({ ok: true as const, value: JSON.parse(value as string) }),
      error => ({
        ok: false as const,
        code: (error as { code: string }).code,
        params: (error as { params: string[] }).params,
      }),
    )

  test("network=<uuid> names the bridge; management-address alone goes on the management PIF's bridge", async () => {
    const network = sim.record('network', F.privateNetwork).uuid as string
    const mgmtBridge = sim.record('network', F.managementNetwork).bridge as string
    const host1 = sim.host('host1').netns
    const applied = await call('apply', {
      network,
      addresses: `${F.hostAddresses[0]}/24`,
      gateway: F.firewallPrivateAddress,
      'management-address': F.hostAddresses[0],
    })
    assert.ok(applied.ok, JSON.stringify(applied))
    assert.equal(applied.value.bridge, F.privateBridge)
    const all = await addresses(host1)
    assert.deepEqual(all[F.privateBridge], [`${F.hostAddresses[0]}/24`])
    assert.ok(all[mgmtBridge]?.includes(`${F.hostAddresses[0]}/32`), `mirror on ${mgmtBridge}: ${JSON.stringify(all)}`)
    assert.equal(await pings(host1, F.nfsServer), true)

    const released = await call('release', { network })
    assert.ok(released.ok && released.value.released === true, JSON.stringify(released))
    const after = await addresses(host1)
    assert.deepEqual(after[F.privateBridge], [], 'the bridge stays (the firewall runs); our address is gone')
    assert.ok(!after[mgmtBridge]?.includes(`${F.hostAddresses[0]}/32`), 'and so is the mirror')
  })

  test('an unknown network, or a bridge and a network together, are refused by name', async () => {
    const unknown = await call('apply', {
      network: '00000000-0000-4000-8000-000000000001',
      addresses: `${F.hostAddresses[0]}/24`,
    })
    assert.deepEqual(unknown.ok ? [] : [unknown.code, unknown.params[0]], [
      'VIF_IP_BINDER_NO_SUCH_DEVICE',
      'network: no network with UUID 00000000-0000-4000-8000-000000000001 in this pool',
    ])
    const both = await call('apply', {
      network: sim.record('network', F.privateNetwork).uuid as string,
      bridge: 'xapi0',
      addresses: `${F.hostAddresses[0]}/24`,
    })
    assert.equal(both.ok ? '' : both.code, 'VIF_IP_BINDER_INVALID_ARGUMENT')
    // The other arguments are checked before xapi is asked anything.
    const bad = await call('apply', { network: '00000000-0000-4000-8000-000000000001', addresses: 'nope' })
    assert.deepEqual(bad.ok ? [] : [bad.code, bad.params[0]], [
      'VIF_IP_BINDER_INVALID_ARGUMENT',
      'addresses: "nope" needs a prefix length (e.g. 192.0.2.2/24)',
    ])
  })
})

describe('Xen Orchestra and the vif-hotplug hook at once', () => {
  let h: Harness | undefined
  after(() => h?.close())

  test('converge to one correct state with no error on either side', async () => {
    const errors: string[] = []
    const transport = Symbol.for('@xen-orchestra/log')
    const previous = (globalThis as Record<symbol, unknown>)[transport]
    ;(globalThis as Record<symbol, unknown>)[transport] = (log: { level: number; message: string }) => {
      if (log.level >= 40) errors.push(log.message)
    }
    try {
      h = await startHarness({ hostPlugin: false })
      const { sim, plugin, binding } = h
      await installHostPlugin(sim)
      await plugin.configure({ bindings: [binding] })
      await plugin.load()
      await plugin.instance.whenIdle()

      await sim.startVm(F.firewallVm, 'host1')
      const host1 = sim.host('host1')
      await waitFor('both paths done', () => hostLog(sim, 'host1').includes('vif-hotplug online: applied'))
      await waitFor(
        'the binding on host1',
        async () => (await defaultRoute(host1.netns)) === `via ${F.firewallPrivateAddress} dev ${F.privateBridge}`,
      )
      await plugin.instance.whenIdle()

      const applies = sim.timeline
        .entries({ kind: 'plugin.finished', host: host1.uuid })
        .filter(e => e.detail?.fn === 'apply' || e.detail?.fn === 'apply-many')
      assert.ok(applies.length >= 1, 'XO applied too')
      const all = await addresses(host1.netns)
      assert.deepEqual(all[F.privateBridge], [`${F.hostAddresses[0]}/24`])
      assert.equal(all.xenbr0?.filter(a => a === `${F.hostAddresses[0]}/32`).length, 1)
      const routes = await ipJson<{ dst: string }[]>(host1.netns, 'route', 'show', 'default')
      assert.equal(routes.length, 1, 'one default route')
      const status = JSON.parse(
        await rpc(sim, 'host.call_plugin', await login(sim), host1.ref, 'vif-ip-binder', 'status', {}),
      )
      assert.equal(status.bridges[F.privateBridge].inSync, true)
      assert.doesNotMatch(hostLog(sim, 'host1'), /\berr: /, 'no error on the hook path')
      assert.deepEqual(errors, [], 'no error on the XO side')
    } finally {
      ;(globalThis as Record<symbol, unknown>)[transport] = previous
    }
  })
})

describe('with no Xen Orchestra: VMs on late storage start once their SRs are back', () => {
  const ISO = 'ISO library'
  let sim: Simulator
  let session: string
  before(async () => {
    const scenario = firewallPool()
    scenario.externals![0]!.listen = [2049, 445]
    scenario.srs!.push({ name: ISO, type: 'iso', device_config: { location: `//${F.nfsServer}/isos`, type: 'cifs' } })
    const nfs = [{ sr: F.srName }]
    scenario.vms!.push(
      { name: 'broken', affinity: 'host1', order: 0, disks: nfs, other_config: { auto_poweron: 'true' } },
      { name: 'db', affinity: 'host1', order: 1, start_delay: 4, disks: nfs, other_config: { auto_poweron: 'true' } },
      { name: 'web', affinity: 'host1', order: 2, disks: nfs, other_config: { auto_poweron: 'true' } },
      { name: 'stopped-by-hand', affinity: 'host1', order: 2, disks: nfs, other_config: { auto_poweron: 'true' } },
      {
        name: 'installer',
        affinity: 'host1',
        order: 3,
        disks: [{ sr: ISO, type: 'CD' }],
        other_config: { auto_poweron: 'true' },
      },
      { name: 'not-auto', affinity: 'host1', disks: nfs },
    )
    scenario.pool = { ...scenario.pool, other_config: { auto_poweron: 'true' } }
    ;({ sim, session } = await autonomousPool({ srNames: [F.srName, ISO] }, scenario))
  })
  after(() => sim?.stop())

  test('xapi auto-start fails on them; after the firewall routes they start in order with start_delay', async () => {
    const atBoot = await sim.xapiAutostart()
    for (const name of ['db', 'web', 'stopped-by-hand', 'installer']) assert.equal(atBoot[name], 'VM_REQUIRES_SR')

    // The first VM.start the host sends (broken's, order 0) loses its connection.
    sim.faults.addConnectionFault({ match: { method: 'VM.start', via: 'unix' }, action: 'drop', times: 1 })
    await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, sim.host('host1').ref, false, false)
    // While db's start_delay runs, an admin starts and stops a VM by hand: it must stay stopped.
    const started = (name: string) => sim.timeline.entries({ kind: 'vm.started', vm: sim.vm(name).uuid })
    await waitFor('db started', () => started('db').length === 1, 60_000)
    await rpc(sim, 'VM.start', session, sim.vm('stopped-by-hand').ref, false, false)
    await rpc(sim, 'VM.clean_shutdown', session, sim.vm('stopped-by-hand').ref)
    await waitFor('installer started', () => started('installer').length === 1, 60_000)

    const auto = sim.timeline
      .entries({ kind: 'vm.started' })
      .map(e => ({ name: sim.record('VM', e.vm!).name_label as string, at: e.at }))
      .filter(e => e.name !== F.firewallVm)
    assert.deepEqual(
      auto.map(e => e.name),
      ['db', 'stopped-by-hand', 'web', 'installer'],
      'in order; the VM started by hand appears once',
    )
    const at = Object.fromEntries(auto.map(e => [e.name, e.at]))
    assert.ok(at.web! - at.db! >= 4000, `web started ${at.web! - at.db!} ms after db, whose start_delay is 4 s`)
    assert.ok(at.installer! >= at.web!, 'order 3 after order 2')
    assert.equal(sim.record('VM', 'stopped-by-hand').power_state, 'Halted', 'left as the admin left it')
    assert.equal(sim.record('VM', 'not-auto').power_state, 'Halted', 'not auto_poweron: never started')
    // The simulator records the start when it answers VM.start; the host logs it once it reads that answer.
    const logged = /auto-start: started a VM storage held back.*"name":"installer"/
    await waitFor('the host logs the start of installer', () => logged.test(hostLog(sim, 'host1')), 10_000)
    assert.equal(sim.record('VM', 'broken').power_state, 'Halted')
    const messages = Object.values(sim.records('message')).filter(m => m.name === 'VIF_IP_BINDER_AUTO_START_FAILED')
    assert.deepEqual(
      messages.map(m => m.obj_uuid),
      [sim.vm('broken').uuid],
      'the failed start is reported where admins look',
    )
  })

  test('once per boot: a later plug-srs starts none of them again', async () => {
    await rpc(sim, 'VM.clean_shutdown', session, sim.vm('web').ref)
    await rpc(sim, 'PBD.unplug', session, sim.pbds(F.srName).host1!)
    const answer = JSON.parse(
      (await rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'plug-srs', {
        srs: sim.record('SR', F.srName).uuid as string,
        timeout: '20',
      })) as string,
    ) as { autoStarted: { name: string; outcome: string; reason?: string }[] }
    assert.deepEqual(
      answer.autoStarted.map(s => [s.name, s.outcome, s.reason]),
      [
        ['broken', 'skipped', 'already tried once this boot'],
        ['stopped-by-hand', 'skipped', 'it ran since this boot and was stopped: left as the admin left it'],
        ['web', 'skipped', 'it ran since this boot and was stopped: left as the admin left it'],
      ],
    )
    assert.equal(sim.record('VM', 'web').power_state, 'Halted')
  })
})

describe('rescue reads why the host is disabled', () => {
  let sim: Simulator
  let session: string
  const host1 = () => sim.host('host1')
  const rescueNow = async () =>
    JSON.parse((await rpc(sim, 'host.call_plugin', session, host1().ref, 'vif-ip-binder', 'rescue', {})) as string) as {
      case: string
      acted: boolean
      reason: string
      steps: { name: string; outcome: string }[]
    }
  const enabled = () => sim.record('host', 'host1').enabled

  before(async () => ({ sim, session } = await autonomousPool({ rescue: true }, firewallPool({ hostsEnabled: false }))))
  after(() => sim?.stop())

  test('deliberately disabled with automatic re-enable off: left disabled', async () => {
    await rpc(sim, 'host.enable', session, host1().ref)
    await rpc(sim, 'host.disable', session, host1().ref, false)
    const result = await rescueNow()
    assert.equal(enabled(), false)
    assert.deepEqual([result.case, result.acted], ['disabled-persistently', false])
    assert.match(result.reason, /automatic re-enable off/)
    putLocalDb(host1().root, 'host_auto_enable', 'true')
  })

  test("Xen Orchestra's maintenance through its REST API (host.disable with auto_enable=false, then evacuate): left disabled", async () => {
    await rpc(sim, 'host.enable', session, host1().ref)
    await rpc(sim, 'host.disable', session, host1().ref, false)
    await rpc(sim, 'host.evacuate', session, host1().ref)
    const result = await rescueNow()
    assert.equal(enabled(), false)
    assert.equal(result.case, 'disabled-persistently')
    assert.match(result.reason, /Xen Orchestra's REST API/)
    putLocalDb(host1().root, 'host_auto_enable', 'true')
  })

  test('XenCenter-style maintenance mode (other_config:MAINTENANCE_MODE): left disabled', async () => {
    sim.store.update(
      'host',
      host1().ref,
      r => void ((r.other_config as Record<string, string>).MAINTENANCE_MODE = 'true'),
    )
    const result = await rescueNow()
    assert.equal(enabled(), false)
    assert.equal(result.case, 'maintenance-mode')
    sim.store.update('host', host1().ref, r => void delete (r.other_config as Record<string, string>).MAINTENANCE_MODE)
  })

  test('HA armed and a PBD failed: left disabled, naming the SR', async () => {
    sim.store.update('pool', sim.poolRef, { ha_enabled: true })
    putLocalDb(host1().root, 'ha.armed', 'true')
    const result = await rescueNow()
    assert.equal(enabled(), false)
    assert.equal(result.case, 'ha-storage-missing')
    assert.match(result.reason, new RegExp(`HA is armed and "${F.srName}" not attached`))
    sim.store.update('pool', sim.poolRef, { ha_enabled: false })
    putLocalDb(host1().root, 'ha.armed', 'false')
  })

  test('pending mandatory guidance: left disabled', async () => {
    sim.store.update('host', host1().ref, { pending_guidances: ['reboot_host'] })
    const result = await rescueNow()
    assert.equal(enabled(), false)
    assert.equal(result.case, 'pending-guidances')
    assert.match(result.reason, /"reboot_host"/)
    sim.store.update('host', host1().ref, { pending_guidances: [] })
  })

  test('disabled only because the network was missing: enabled, the firewall started', async () => {
    const result = await rescueNow()
    assert.equal(enabled(), true)
    assert.deepEqual([result.case, result.acted], ['network-missing', true])
    assert.match(result.reason, /xapi re-enables such a host once its management network comes back/)
    assert.deepEqual(
      result.steps.map(s => [s.name, s.outcome]),
      [[F.firewallVm, 'started']],
    )
  })
})

describe("with no Xen Orchestra: status checks the firewall's VIF", () => {
  let sim: Simulator
  let session: string
  before(async () => ({ sim, session } = await autonomousPool({ srs: false })))
  after(() => sim?.stop())

  const status = async () =>
    JSON.parse(
      (await rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'status', {})) as string,
    ) as { firewallVifs: { vif: string; problems: { code: string; message: string; fix: string }[] }[] }

  test('flags TX checksum offload and a locking mode that drops traffic, each with its xe fix', async () => {
    const vif = sim.vifs(F.firewallVm)['0']!
    const uuid = sim.record('VIF', vif).uuid as string
    await rpc(sim, 'VIF.set_locking_mode', session, vif, 'locked')
    await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, sim.host('host1').ref, false, false)
    await waitFor('host1 bound', async () => (await defaultRoute(sim.host('host1').netns)).startsWith('via'))

    const flagged = await status()
    assert.deepEqual(
      flagged.firewallVifs.map(v => v.vif),
      [uuid],
    )
    assert.deepEqual(
      flagged.firewallVifs[0]!.problems.map(p => [p.code, p.fix]),
      [
        ['TX_CHECKSUM_OFFLOAD_ON', `xe vif-param-set uuid=${uuid} other-config:ethtool-tx="off"`],
        ['LOCKING_MODE_DROPS_TRAFFIC', `xe vif-param-set uuid=${uuid} locking-mode=unlocked`],
      ],
    )
    assert.match(flagged.firewallVifs[0]!.problems[0]!.message, /next plug/)
    assert.match(
      flagged.firewallVifs[0]!.problems[1]!.message,
      new RegExp(`not even the gateway ${F.firewallPrivateAddress}`),
    )

    await rpc(sim, 'VIF.add_to_other_config', session, vif, 'ethtool-tx', 'off')
    await rpc(sim, 'VIF.set_locking_mode', session, vif, 'unlocked')
    assert.deepEqual((await status()).firewallVifs[0]!.problems, [])
  })

  test('firewall-vifs=false: what is recorded and in the kernel, without the check', async () => {
    const args = { 'firewall-vifs': 'false' }
    const text = await rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'status', args)
    const answer = JSON.parse(text as string) as {
      bridges: Record<string, { inSync: boolean }>
      firewallVifs?: unknown
    }
    assert.equal(answer.firewallVifs, undefined)
    assert.deepEqual(answer.bridges[F.privateBridge]?.inSync, true)
  })
})
