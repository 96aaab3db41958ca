// The XO plugin's behaviour against an in-memory xo-server and pool: what it calls on which
// host when the firewall VM starts, stops, migrates; configuration changes; reconnections.

import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { BindingConfig, PluginConfig } from '../../shared/binding.ts'
import { VifIpBinderPlugin } from '../../xo-plugin/plugin.ts'
import { DATA_LINE_WIDTH, type PluginApiError } from '../../xo-plugin/xo-errors.ts'
import { FacadeTasks } from '../xo-facade/facade.ts'
import { PAUSE_KEY } from '../../shared/pause.ts'
import type { XapiRecord } from '../../xo-plugin/xapi-types.ts'
import { halt, pluginOnFakePool, startOn } from './xo-fakes.ts'
import { failureText } from '../helpers/test-failure.ts'

function setup() {
  const harness = pluginOnFakePool()
  const binding: BindingConfig = {
    vm: harness.vm.uuid,
    network: 'dom0-firewall',
    addresses: ['192.168.1.2/24'],
    gateways: ['192.168.1.1'],
  }
  const config: PluginConfig = { bindings: [binding], gatewayCheckSeconds: 10 }
  return { ...harness, binding, config }
}

let ctx: ReturnType<typeof setup>

beforeEach(() => {
  ctx = setup()
})

afterEach(async () => {
  await ctx.plugin.unload()
})

describe('configure', () => {
  it('writes the pool copy with the network resolved to its UUID, through a staging copy', async () => {
    const { plugin, config, xapi, priv, vm } = ctx
    await plugin.configure(config, { loaded: false })
    const written = JSON.parse(xapi.pool!.other_config['vif-ip-binder']!)
    assert.equal(written.writtenBy.by, 'xo')
    assert.ok(!Number.isNaN(Date.parse(written.writtenBy.at)))
    delete written.writtenBy
    assert.deepEqual(written, {
      version: 1,
      gatewayCheckSeconds: 10,
      rescue: false,
      bindings: [
        {
          vm: vm.uuid,
          network: priv.uuid,
          addresses: ['192.168.1.2/24'],
          gateways: ['192.168.1.1'],
          routes: [],
          proxyArp: false,
          forwarding: false,
          srs: [],
        },
      ],
    })
    // No moment without a document: the staging copy first, the main key replaced, the copy removed.
    assert.deepEqual(
      xapi.calls
        .filter(c => c.method.startsWith('pool.'))
        .map(c => [c.method, String((c.args as unknown as unknown[])[1]).replace(/:staging:.*/, ':staging:…')]),
      [
        ['pool.add_to_other_config', 'vif-ip-binder:staging:…'],
        ['pool.remove_from_other_config', 'vif-ip-binder'],
        ['pool.add_to_other_config', 'vif-ip-binder'],
        ['pool.remove_from_other_config', 'vif-ip-binder:staging:…'],
      ],
    )
    assert.deepEqual(
      Object.keys(xapi.pool!.other_config).filter(k => k.includes('staging')),
      [],
    )
    // Saving the same configuration again writes nothing.
    await plugin.configure(config, { loaded: false })
    assert.equal(xapi.calls.filter(c => c.method.startsWith('pool.')).length, 4)
  })

  it("takes the VM's one private network when the network is left empty (as the presets leave it)", async () => {
    const { plugin, binding, xapi, priv } = ctx
    await plugin.configure({ bindings: [{ ...binding, network: undefined }] }, { loaded: false })
    assert.equal(JSON.parse(xapi.pool!.other_config['vif-ip-binder']!).bindings[0].network, priv.uuid)
  })

  it('removes the pool copy when the pool has no binding left', async () => {
    const { plugin, config, xapi } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.configure({ bindings: [] }, { loaded: false })
    assert.equal(xapi.pool!.other_config['vif-ip-binder'], undefined)
  })

  it('asks every host of the pool to refresh its hook index after each write, not after an unchanged one', async () => {
    const { plugin, config, binding, xapi, hosts, log } = ctx
    const refreshed = () => xapi.pluginCalls('refresh-index').map(c => c.host)
    await plugin.configure(config, { loaded: false })
    await plugin.whenIdle()
    assert.deepEqual(refreshed().sort(), hosts.map(h => h.$ref).sort())
    await plugin.configure(config, { loaded: false })
    await plugin.whenIdle()
    assert.equal(refreshed().length, 2, 'the document did not change: nothing to refresh')
    // A host plugin older than refresh-index: said at debug level, the configuration still saved.
    xapi.pluginOf(hosts[1]).noRefreshIndex = true
    await plugin.configure({ bindings: [{ ...binding, addresses: ['192.168.1.3/24'] }] }, { loaded: false })
    await plugin.whenIdle()
    assert.equal(refreshed().length, 4)
    assert.equal(JSON.parse(xapi.pool!.other_config['vif-ip-binder']!).bindings[0].addresses[0], '192.168.1.3/24')
    assert.equal(log.matching('debug', /host2\/refresh-index: not done/).length, 1)
    assert.deepEqual(log.matching('warn', /refresh-index/), [])
    await plugin.configure({ bindings: [] }, { loaded: false })
    await plugin.whenIdle()
    assert.equal(refreshed().length, 6, 'a removed document is a change too')
  })

  it('refuses an unknown network, an ambiguous name, and a VM without a VIF on it, naming them', async () => {
    const { plugin, config, binding, xapi } = ctx
    await plugin.configure(config, { loaded: false })
    await assert.rejects(
      plugin.configure({ bindings: [{ ...binding, network: 'nope' }] }, { loaded: false }),
      /binding 1 .*network "nope" not found in pool "lab"/,
    )
    const other = xapi.add('network', { name_label: 'dom0-firewall', bridge: 'xapi7', PIFs: [] })
    await assert.rejects(
      plugin.configure(config, { loaded: false }),
      /network name "dom0-firewall" is ambiguous in pool "lab": use one of the UUIDs .*/,
    )
    await assert.rejects(
      plugin.configure({ bindings: [{ ...binding, network: other.uuid }] }, { loaded: false }),
      new RegExp(`VM "fw" \\(.*\\) has no VIF on network "dom0-firewall" \\(${other.uuid}\\)`),
    )
    const missingSr = '11111111-2222-4333-8444-555555555555'
    await assert.rejects(
      plugin.configure(
        { bindings: [{ ...binding, network: ctx.priv.uuid, srs: [{ sr: missingSr }] }] },
        { loaded: false },
      ),
      new RegExp(`SR ${missingSr} not found in pool "lab"`),
    )
  })

  it('refuses a bad address as xo-web shows it: one message naming the VM, its text as data, no stack', async () => {
    const { plugin, binding, vm } = ctx
    await assert.rejects(
      plugin.configure({ bindings: [{ ...binding, vm: vm.uuid, addresses: ['192.168.1.300/24'] }] }, { loaded: false }),
      (error: PluginApiError) => {
        const payload = error.toJsonRpcError()
        assert.equal(payload.code, 10)
        assert.equal(
          payload.message,
          'binding 1 (VM "fw", network "dom0-firewall"): addresses: "192.168.1.300/24" does not start with an IP address',
        )
        assert.equal(
          JSON.stringify(payload.data),
          '"binding 1 (VM “fw”, network “dom0-firewall”): addresses: “192.168.1.300/24” does not start with an IP address"',
        )
        assert.equal(error.reason, 'VIF_IP_BINDER_INVALID_ARGUMENT')
        return true
      },
    )
  })

  it('refuses an unknown VM in the first configuration of a fresh install', async () => {
    const { plugin, binding } = ctx
    const ghost = {
      ...binding,
      vm: '00000000-0000-4000-8000-000000000000',
      addresses: ['192.168.9.2/24'],
      gateways: [],
    }
    // xo-server passes `loaded: undefined` until the plugin was loaded once, at start-up and
    // on a fresh install's first save alike.
    await assert.rejects(
      plugin.configure({ bindings: [binding, ghost] }, { loaded: undefined }),
      /binding 2 .*is unknown: no connected pool has it/,
    )
  })

  it('waits for an unknown VM only when xo-server re-applies the saved configuration at start-up', async () => {
    const { plugin, binding, log, xo } = ctx
    const ghost = {
      ...binding,
      vm: '00000000-0000-4000-8000-000000000000',
      addresses: ['192.168.9.2/24'],
      gateways: [],
    }
    xo.saved = { bindings: [binding, ghost] }
    await plugin.configure(
      { bindings: [binding, ghost], gatewayCheckSeconds: 10, rescue: false },
      { loaded: undefined },
    )
    assert.equal(log.matching('warn', /binding 2 .*VM "00000000-0000-4000-8000-000000000000" is unknown/).length, 1)
    const other = { ...ghost, addresses: ['192.168.9.3/24'] }
    await assert.rejects(
      plugin.configure({ bindings: [binding, other] }, { loaded: undefined }),
      /binding 2 .*is unknown: no connected pool has it/,
    )
  })

  it('at start-up, accepts bindings of a pool still connecting and binds them once it is fetched', async () => {
    const { plugin, config, xapi, vm, vif, hosts, log, xo } = ctx
    xo.saved = config
    let fetched!: () => void
    xapi.objectsFetched = new Promise<void>(resolve => (fetched = resolve))
    const poolRecord = xapi.pool
    xapi.connecting = true
    startOn(xapi, vm, vif, hosts[0])
    // The pool's objects are not fetched until `fetched()` below: a configure that waited
    // for them would never settle before the pool's fetch does.
    const first = await Promise.race([
      plugin.configure(config, { loaded: false }).then(() => 'configured'),
      xapi.objectsFetched.then(() => 'fetched'),
    ])
    assert.equal(first, 'configured', 'start-up is not held up by connecting pools')
    assert.equal(poolRecord?.other_config['vif-ip-binder'], undefined)
    xapi.connecting = false
    assert.ok(log.matching('warn', /checked again when its pool connects/).length >= 1)
    await plugin.load()
    assert.equal(xapi.applyRequests().length, 0)
    fetched()
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.get('xapi1')?.addresses, '192.168.1.2/24')
  })

  it('waits for the records of a connected pool before judging a configuration', async () => {
    // Its own plugin, with a fetch timeout far beyond the fetch: the records must win by
    // being waited for, not by beating a timer.
    const { plugin, xapi, vm } = pluginOnFakePool({ fetchTimeoutMs: 60_000 })
    let fetched!: () => void
    xapi.objectsFetched = new Promise<void>(resolve => (fetched = resolve))
    setTimeout(() => fetched(), 20)
    try {
      await plugin.configure({ ...ctx.config, bindings: [{ ...ctx.binding, vm: vm.uuid }] }, { loaded: false })
      assert.ok(xapi.pool!.other_config['vif-ip-binder'])
    } finally {
      await plugin.unload()
    }
  })

  it('refuses the same network named once by name and once by UUID for one VM', async () => {
    const { plugin, binding, priv } = ctx
    await assert.rejects(
      plugin.configure(
        { bindings: [binding, { ...binding, network: priv.uuid, addresses: ['192.168.1.3/24'] }] },
        { loaded: false },
      ),
      /binding 2 .*already bound by binding 1/,
    )
  })

  it('leaves everything as it was when a configuration is refused', async () => {
    const { plugin, config, binding, xapi, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    const before = { ...xapi.pool!.other_config }
    const calls = xapi.calls.length
    await assert.rejects(
      plugin.configure({ bindings: [{ ...binding, addresses: ['192.168.1.2/33'] }] }, { loaded: true }),
      /addresses: "192\.168\.1\.2\/33"/,
    )
    await plugin.whenIdle()
    assert.deepEqual(xapi.pool!.other_config, before)
    assert.equal(xapi.calls.length, calls)
    assert.equal(xapi.pluginOf(hosts[0]).bridges.get('xapi1')!.addresses, '192.168.1.2/24')
  })
})

describe('while loaded', () => {
  it('applies on the host the VM starts on, with both bridges', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    await plugin.configure({ bindings: [{ ...config.bindings[0]!, managementAddress: '10.0.0.5' }] }, { loaded: false })
    await plugin.load()
    await plugin.whenIdle()
    assert.equal(xapi.applyRequests().length, 0, 'nothing runs while the VM is halted')
    startOn(xapi, vm, vif, hosts[1])
    await plugin.whenIdle()
    const applies = xapi.applyRequests()
    assert.equal(applies.length, 1)
    assert.equal(applies[0]!.host, hosts[1].$ref)
    assert.deepEqual(applies[0]!.args, {
      bridge: 'xapi1',
      addresses: '192.168.1.2/24',
      gateway: '192.168.1.1',
      'management-address': '10.0.0.5',
      'management-bridge': 'xenbr0',
    })
    assert.deepEqual(plugin.pendingKeys(), [])
  })

  it('releases when the VIF detaches, and when the VM halts', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    xapi.update(vif, { currently_attached: false })
    await plugin.whenIdle()
    assert.deepEqual(
      xapi.pluginCalls('release').map(c => [c.host, c.args]),
      [[hosts[0].$ref, { bridge: 'xapi1' }]],
    )
    assert.equal(xapi.pluginOf(hosts[0]).bridges.size, 0)
    xapi.update(vif, { currently_attached: true })
    await plugin.whenIdle()
    halt(xapi, vm, vif)
    await plugin.whenIdle()
    assert.equal(xapi.pluginCalls('release').length, 2)
    assert.equal(xapi.pluginOf(hosts[0]).bridges.size, 0)
  })

  it('changes nothing on a paused host, and converges once it resumes', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.applyRequests().length, 1)
    const pause = JSON.stringify({ reason: 'replacing the firewall', at: '2026-12-01T03:00:00.000Z' })
    xapi.update(hosts[0], { other_config: { [PAUSE_KEY]: pause } })
    halt(xapi, vm, vif)
    await plugin.whenIdle()
    assert.equal(xapi.pluginCalls('release').length, 0, 'no release on a paused host')
    startOn(xapi, vm, vif, hosts[0])
    xapi.update(vif, { currently_attached: false })
    await plugin.whenIdle()
    assert.equal(xapi.applyRequests().length + xapi.pluginCalls('release').length, 1, 'nothing at all')
    xapi.update(hosts[0], { other_config: {} })
    await plugin.whenIdle()
    assert.deepEqual(
      xapi.pluginCalls('release').map(c => c.host),
      [hosts[0].$ref],
      'resumed: the detached VIF is released',
    )
  })

  it('keeps a pool document written on a host when it loads, acts on it, and says so', async () => {
    const { plugin, config, xapi, vm, vif, hosts, priv, log, xo } = ctx
    const hostWritten = JSON.stringify({
      version: 1,
      writtenBy: { by: 'host', host: hosts[1].uuid, at: '2026-12-01T03:00:00.000Z' },
      gatewayCheckSeconds: 10,
      rescue: false,
      bindings: [
        {
          vm: vm.uuid,
          network: priv.uuid,
          addresses: ['192.168.1.9/24'],
          gateways: [],
          routes: [],
          proxyArp: false,
          forwarding: false,
          srs: [],
        },
      ],
    })
    xapi.update(xapi.pool!, { other_config: { 'vif-ip-binder': hostWritten } })
    // xo-server re-applies its saved (different) configuration at start-up: not an explicit write.
    xo.saved = config
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.pool!.other_config['vif-ip-binder'], hostWritten, 'the host-written document is kept')
    assert.equal(plugin.poolConfiguration(xapi.pool!.uuid)?.source, 'pool')
    assert.equal(xapi.applyRequests()[0]?.args?.addresses, '192.168.1.9/24', 'XO converges on the pool document')
    assert.ok(
      log.matching('warn', /its configuration was written on host "host2" .* differs from XO's settings/).length === 1,
      'and says which one is in effect',
    )
  })

  it('moves the binding when the VM migrates', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    xapi.update(vm, { resident_on: hosts[1].$ref })
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.size, 0)
    assert.equal(xapi.pluginOf(hosts[1]).bridges.get('xapi1')?.addresses, '192.168.1.2/24')
    assert.deepEqual(
      xapi.pluginCalls('release').map(c => c.host),
      [hosts[0].$ref],
    )
  })

  it('takes a new configuration at once: applies what changed, releases what was removed', async () => {
    const { plugin, config, binding, xapi, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    await plugin.configure({ bindings: [{ ...binding, addresses: ['192.168.1.3/24'] }] }, { loaded: true })
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.get('xapi1')?.addresses, '192.168.1.3/24')
    await plugin.configure({ bindings: [] }, { loaded: true })
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.size, 0)
    assert.equal(xapi.pool!.other_config['vif-ip-binder'], undefined)
  })

  it('applies a change from a new configuration with a confirmation window, a VIF plug of an unchanged binding without', async () => {
    const { plugin, config, binding, xapi, vm, vif, hosts } = ctx
    await plugin.configure({ ...config, confirmSeconds: 45 }, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    await plugin.configure(
      { bindings: [{ ...binding, addresses: ['192.168.1.3/24'] }], confirmSeconds: 45 },
      { loaded: true },
    )
    await plugin.whenIdle()
    xapi.update(vif, { currently_attached: false })
    await plugin.whenIdle()
    xapi.update(vif, { currently_attached: true })
    await plugin.whenIdle()
    const windows = xapi.applyRequests().map(c => [c.args!.addresses, c.args!.confirm])
    assert.deepEqual(windows, [
      ['192.168.1.2/24', undefined],
      ['192.168.1.3/24', '45'],
      ['192.168.1.3/24', undefined],
    ])
  })

  it('retries transient failures and logs a missing host plugin once, with what to do', async () => {
    const { plugin, config, xapi, vm, vif, hosts, log } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    await plugin.whenIdle()
    xapi
      .pluginOf(hosts[0])
      .failures.push(Object.assign(new Error('busy'), { code: 'VIF_IP_BINDER_BUSY', params: ['locked'] }))
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.get('xapi1')?.addresses, '192.168.1.2/24')
    assert.equal(log.matching('warn', /attempt 1 failed, retrying/).length, 1)

    xapi.pluginOf(hosts[1]).installed = false
    xapi.update(vm, { resident_on: hosts[1].$ref })
    await plugin.whenIdle()
    xapi.update(vif, { currently_attached: false })
    xapi.update(vif, { currently_attached: true })
    await plugin.whenIdle()
    const warnings = log.matching(
      'warn',
      /host "host2": host plugin vif-ip-binder is not installed: on that host, yum install vif-ip-binder-.*\.x86_64\.rpm/,
    )
    assert.equal(warnings.length, 1)
    // One attempt, not retried: a missing plugin does not come back by itself.
    assert.equal(xapi.applyRequests().filter(c => c.host === hosts[1].$ref).length, 1)
    assert.equal(xapi.pluginOf(hosts[1]).bridges.size, 0)
  })

  it('tries again later once the retries are spent on a transient error', async () => {
    const { xo, pool, config, vm, vif, hosts, log } = ctx
    const { xapi } = pool
    const plugin = new VifIpBinderPlugin(xo, {
      log,
      debounceMs: 5,
      fetchTimeoutMs: 50,
      retryLaterMs: 40,
      queue: { retries: 1, backoffMs: 1, maxBackoffMs: 1 },
    })
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    await plugin.whenIdle()
    const busy = () => Object.assign(new Error('busy'), { code: 'VIF_IP_BINDER_BUSY', params: ['locked'] })
    xapi.pluginOf(hosts[0]).failures.push(busy(), busy())
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.size, 0, 'both attempts failed')
    assert.equal(log.matching('error', /apply failed on host "host1" for bridge xapi1/).length, 1)
    await new Promise(resolve => setTimeout(resolve, 80))
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.get('xapi1')?.addresses, '192.168.1.2/24')
    await plugin.unload()
  })

  it('notices a host plugin installed later, without any event', async () => {
    const { xo, pool, config, vm, vif, hosts, log } = ctx
    const { xapi } = pool
    const plugin = new VifIpBinderPlugin(xo, {
      log,
      debounceMs: 5,
      fetchTimeoutMs: 50,
      retryLaterMs: 40,
      queue: { retries: 0 },
    })
    xapi.pluginOf(hosts[0]).installed = false
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.size, 0)
    xapi.pluginOf(hosts[0]).installed = true
    await new Promise(resolve => setTimeout(resolve, 80))
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.get('xapi1')?.addresses, '192.168.1.2/24')
    assert.equal(log.matching('warn', /is not installed/).length, 1)
    await plugin.unload()
  })

  it('refuses a host plugin of another protocol, saying so once', async () => {
    const { plugin, config, xapi, vm, vif, hosts, log } = ctx
    xapi.pluginOf(hosts[0]).protocol = 2
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.applyRequests().length, 0)
    assert.equal(log.matching('warn', /speaks protocol 2, this XO plugin speaks 1/).length, 1)
  })

  it('reconciles on reconnection: a VM started meanwhile gets bound', async () => {
    const { plugin, config, xo, xapi, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    await plugin.whenIdle()
    xo.disconnect('lab')
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.applyRequests().length, 0, 'a disconnected pool is not acted upon')
    xo.connect('lab', xapi)
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.get('xapi1')?.addresses, '192.168.1.2/24')
  })

  it('on load, releases what a host still holds for a VM that stopped while XO was away', async () => {
    const { plugin, config, xapi, hosts } = ctx
    xapi.pluginOf(hosts[1]).bridges.set('xapi1', { bridge: 'xapi1', addresses: '192.168.1.2/24' })
    xapi.pluginOf(hosts[1]).bridges.set('xapi9', { bridge: 'xapi9', addresses: '10.9.9.9/24' })
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    await plugin.whenIdle()
    assert.deepEqual(
      [...xapi.pluginOf(hosts[1]).bridges.keys()],
      ['xapi9'],
      "only the bound network's bridge is ours to release",
    )
  })

  it('on load, sends a host what it already holds once, without a window or a question first', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    startOn(xapi, vm, vif, hosts[0])
    const held = { gateway: '192.168.1.1', addresses: '192.168.1.2/24', bridge: 'xapi1' }
    xapi.pluginOf(hosts[0]).bridges.set('xapi1', held)
    await plugin.configure({ ...config, confirmSeconds: 45 }, { loaded: false })
    await plugin.load()
    await plugin.whenIdle()
    const calls = (host: XapiRecord) =>
      xapi.pluginCalls().flatMap(c => (c.host === host.$ref ? [[c.fn, c.args?.['refuse-changes']]] : []))
    assert.deepEqual(calls(hosts[0]), [
      ['refresh-index', undefined],
      ['version', undefined],
      ['apply-many', 'true'],
    ])
    // A host without a target is asked what it holds instead: a bound bridge there is released.
    assert.deepEqual(calls(hosts[1]), [
      ['refresh-index', undefined],
      ['version', undefined],
      ['status', undefined],
    ])
    assert.deepEqual(xapi.applyRequests(), [{ host: hosts[0].$ref, args: held }])
    assert.deepEqual(plugin.pendingKeys(), [])
  })

  it('unload stops listening and leaves the hosts as they are', async () => {
    const { plugin, config, xapi, xo, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    const calls = xapi.calls.length
    await plugin.unload()
    assert.equal(
      xapi.objects.listenerCount('update') + xapi.objects.listenerCount('add') + xapi.objects.listenerCount('remove'),
      0,
    )
    assert.equal(xo.listenerCount('server:connected') + xo.listenerCount('server:disconnected'), 0)
    halt(xapi, vm, vif)
    await new Promise(resolve => setTimeout(resolve, 30))
    assert.equal(xapi.calls.length, calls)
    assert.equal(xapi.pluginOf(hosts[0]).bridges.size, 1)
    // Loading again picks up where things are.
    await plugin.load()
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.size, 0)
  })
})

describe('test()', () => {
  it('reports each host plugin and the drift of a running VM', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    const report = await plugin.test()
    assert.equal(report.ok, true)
    assert.match(report.text, /host "host1": vif-ip-binder 9\.9\.9 \(protocol 1\)/)
    assert.match(report.text, /host "host2": vif-ip-binder 9\.9\.9/)
    assert.match(report.text, /VM "fw" runs on host "host1", VIF attached, bridge xapi1/)
    assert.match(report.text, /in sync: addresses 192\.168\.1\.2\/24/)
  })

  it('fails with the whole report when a host lacks the plugin or holds other arguments', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    xapi.pluginOf(hosts[1]).installed = false
    xapi.pluginOf(hosts[0]).bridges.set('xapi1', { bridge: 'xapi1', addresses: '192.168.1.77/24' })
    await assert.rejects(plugin.test(), (error: Error) => {
      assert.match(failureText(error), /host "host2": PROBLEM: host plugin vif-ip-binder is not installed/)
      assert.match(failureText(error), /PROBLEM: host "host1" holds other arguments than configured/)
      return true
    })
  })

  it('runs with the form left empty, tests one binding on request, and names a binding that does not exist', async () => {
    const { plugin, config } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    await plugin.whenIdle()
    assert.equal((await plugin.test(undefined)).bindings.length, 1)
    assert.equal((await plugin.test({})).bindings.length, 1)
    assert.equal((await plugin.test({ binding: 1 })).bindings.length, 1)
    await assert.rejects(plugin.test({ binding: 2 }), (error: PluginApiError) => {
      assert.equal(error.toJsonRpcError().code, 10)
      assert.match(error.message, /binding 2 does not exist \(there is 1 binding/)
      return true
    })
  })

  it('records the whole report in an XO task, and fails with the problems only, without data or stack', async () => {
    const { plugin, config, xapi, vm, vif, hosts, xo } = ctx
    const tasks = new FacadeTasks()
    Object.assign(xo, { tasks })
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    xapi.pluginOf(hosts[1]).installed = false
    await assert.rejects(plugin.test(), (error: PluginApiError) => {
      const payload = error.toJsonRpcError()
      assert.equal(payload.code, 21)
      // xo-web prints the message in a <p>, where line breaks collapse, and the data below
      // it as indented JSON in a <pre>: one line per problem there.
      assert.equal(
        payload.message,
        '1 of 1 binding needs attention. Full report: the task "vif-ip-binder: Test" under XO tasks on the Tasks page.',
      )
      const problems = payload.data as Record<string, string[]>
      assert.deepEqual(Object.keys(problems), ['binding 1 (VM “fw”, network “dom0-firewall”)'])
      const lines = problems['binding 1 (VM “fw”, network “dom0-firewall”)']!
      assert.ok(
        lines.every(line => line.length <= DATA_LINE_WIDTH + 1),
        `lines fit the modal, whose <pre> does not wrap: ${JSON.stringify(lines)}`,
      )
      const unwrapped = lines
        .join('\n')
        .replace(/\n {2}/g, '')
        .split('\n')
      assert.equal(unwrapped.length, 1, 'lines in order stay in the task')
      assert.match(
        unwrapped[0]!,
        /^host “host2”: PROBLEM: host plugin vif-ip-binder is not installed: on that host, yum/,
      )
      return true
    })
    const [task] = tasks.logs
    assert.equal(task?.properties.name, 'vif-ip-binder: Test')
    assert.equal(task?.status, 'failure')
    assert.match(
      task!.infos[0]!.message,
      /host "host1": vif-ip-binder 9\.9\.9[\s\S]*in sync: addresses 192\.168\.1\.2\/24/,
    )
  })

  it('says when a host has no management PIF for the mirror', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    xapi.update(hosts[0], { PIFs: [] })
    await plugin.configure({ bindings: [{ ...config.bindings[0]!, managementAddress: '10.0.0.5' }] }, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.pluginOf(hosts[0]).bridges.get('xapi1')?.['management-address'], undefined)
    const report = await plugin.test()
    assert.match(report.text, /host "host1" has no management PIF: the management address is not mirrored/)
  })
})
