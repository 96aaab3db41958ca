// After an apply, the XO plugin re-attaches the binding's network SRs on that host with the
// host plugin's plug-srs, run as an xapi task and waited for outside the per-host queue;
// the Test report shows the latest outcome per SR.

import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { PluginConfig } from '../../shared/binding.ts'
import { encodePlugSrsArgs, parsePlugSrsArgs } from '../../shared/plugin-args.ts'
import type { PluginOptions } from '../../xo-plugin/plugin.ts'
import { pluginOnFakePool, startOn } from './xo-fakes.ts'
import { failureMatching, failureText } from '../helpers/test-failure.ts'

function setup(options: Partial<PluginOptions> = {}) {
  const harness = pluginOnFakePool(options)
  const nfs = harness.xapi.addSr('NFS storage')
  const config: PluginConfig = {
    bindings: [
      {
        vm: harness.vm.uuid,
        network: 'dom0-firewall',
        addresses: ['192.168.1.2/24'],
        gateways: ['192.168.1.1'],
        srs: [{ sr: nfs.sr.uuid }],
      },
    ],
  }
  return { ...harness, config, nfs }
}

let ctx: ReturnType<typeof setup>

beforeEach(() => {
  ctx = setup()
})

afterEach(async () => {
  await ctx.plugin.unload()
})

/** Loads the plugin and starts the VM while host1's plug-srs waits behind a closed gate. */
async function startWithStorageHeldBack(): Promise<{ open: () => void }> {
  const { plugin, config, xapi, vm, vif, hosts } = ctx
  const slow = gate()
  xapi.pluginOf(hosts[0]).plugGate = slow.promise
  await plugin.configure(config, { loaded: false })
  await plugin.load()
  startOn(xapi, vm, vif, hosts[0])
  await waitUntil(() => xapi.pluginCalls('plug-srs').length === 1)
  return slow
}

/** A gate the fake storage server waits behind: plug-srs does not answer until opened. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>(resolve => (open = resolve))
  return { promise, open }
}

const attached = (record: { $id: string }) =>
  (ctx.xapi.objects.all[record.$id] as unknown as { currently_attached: boolean }).currently_attached

describe('encodePlugSrsArgs', () => {
  it('writes what the host plugin parses back', () => {
    const a = '11111111-2222-4333-8444-555555555555'
    const b = '66666666-7777-4888-9999-aaaaaaaaaaaa'
    const args = encodePlugSrsArgs([{ sr: a }, { sr: b, probe: 'tcp:[2001:db8::10]:2049' }], 90)
    assert.deepEqual(parsePlugSrsArgs(args), {
      srs: [a, b],
      probes: { [b]: { kind: 'tcp', host: '2001:db8::10', port: 2049 } },
      timeoutSeconds: 90,
    })
    assert.equal(encodePlugSrsArgs([{ sr: a }], 120).probes, undefined, 'no probes argument without a probe')
  })
})

describe('plug-srs after apply', () => {
  it('plugs the SRs on the host it applied on, as a task, and reports them plugged', async () => {
    const { plugin, config, xapi, vm, vif, hosts, nfs, log } = ctx
    await plugin.configure(
      { ...config, bindings: [{ ...config.bindings[0]!, srs: [{ sr: nfs.sr.uuid, probe: 'icmp:192.168.2.10' }] }] },
      { loaded: false },
    )
    await plugin.load()
    await plugin.whenIdle()
    assert.match((await plugin.test()).text, /SR "NFS storage": not tried yet/)

    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    const plugs = xapi.pluginCalls('plug-srs')
    assert.deepEqual(
      plugs.map(c => [c.method, c.host, c.args]),
      [
        [
          'Async.host.call_plugin',
          hosts[0].$ref,
          { srs: nfs.sr.uuid, probes: `${nfs.sr.uuid}=icmp:192.168.2.10`, timeout: '120' },
        ],
      ],
    )
    assert.equal(attached(nfs.pbds[0]!), true, 'host1 PBD plugged')
    assert.equal(attached(nfs.pbds[1]!), false, 'host2 PBD left alone')
    assert.equal(
      Object.values(xapi.objects.all).filter(r => r.$type === 'task').length,
      0,
      'the finished task is destroyed',
    )
    assert.equal(
      log.matching(
        'info',
        /SR "NFS storage" on host "host1": plugged \(probe icmp:192\.168\.2\.10 answered after 3 attempts\)/,
      ).length,
      1,
    )

    const report = await plugin.test()
    assert.equal(report.ok, true)
    assert.match(
      report.text,
      /SR "NFS storage" on host "host1": plugged \(probe icmp:192\.168\.2\.10 answered after 3 attempts\) \(at \d{4}-/,
    )
  })

  it('does not hold up the host queue while the storage server is awaited', async () => {
    const { plugin, xapi, vif, hosts, nfs } = ctx
    const slow = await startWithStorageHeldBack()
    assert.match((await plugin.test()).text, /SR "NFS storage" on host "host1": plugging now \(since /)

    // Halting the VM releases on host1 while plug-srs still waits there.
    xapi.update(vif, { currently_attached: false })
    await waitUntil(() => xapi.pluginOf(hosts[0]).bridges.size === 0)
    assert.equal(attached(nfs.pbds[0]!), false, 'plug-srs has not answered yet')
    slow.open()
    await plugin.whenIdle()
    assert.equal(attached(nfs.pbds[0]!), true)
  })

  it('does not start a second plug-srs for the same host and SRs while one runs', async () => {
    const { plugin, config, xapi, hosts } = ctx
    const slow = await startWithStorageHeldBack()
    // A new address means a new apply on the same host, with the same SRs.
    await plugin.configure({ bindings: [{ ...config.bindings[0]!, addresses: ['192.168.1.3/24'] }] }, { loaded: true })
    await waitUntil(() => xapi.pluginOf(hosts[0]).bridges.get('xapi1')?.addresses === '192.168.1.3/24')
    assert.equal(xapi.applyRequests().length, 2)
    assert.equal(xapi.pluginCalls('plug-srs').length, 1)
    slow.open()
    await plugin.whenIdle()

    // Once it is over, the next apply plugs again (the PBD is attached by now).
    xapi.pluginOf(hosts[0]).plugGate = undefined
    await plugin.configure(config, { loaded: true })
    await plugin.whenIdle()
    assert.equal(xapi.pluginCalls('plug-srs').length, 2)
    assert.match((await plugin.test()).text, /SR "NFS storage" on host "host1": already attached/)
  })

  it('reports an unreachable server with its probe, and a failed plug with the xapi error, as problems', async () => {
    const { plugin, config, xapi, vm, vif, hosts, nfs, log } = ctx
    const other = xapi.addSr('SMB share')
    xapi.pluginOf(hosts[0]).unreachable.add(nfs.sr.uuid)
    xapi.pluginOf(hosts[0]).plugErrors.set(other.sr.uuid, ['SR_BACKEND_FAILURE_111', '', 'SMB mount error', ''])
    await plugin.configure(
      { bindings: [{ ...config.bindings[0]!, srs: [{ sr: nfs.sr.uuid }, { sr: other.sr.uuid }] }] },
      { loaded: false },
    )
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.pluginCalls('plug-srs').length, 1, 'one call for both SRs')
    assert.equal(
      log.matching(
        'warn',
        /SR "NFS storage" on host "host1": server unreachable: probe tcp:nfs\.lab:2049 got no answer in 3 attempts over 0\.5 s \(connection refused\)/,
      ).length,
      1,
    )
    await assert.rejects(plugin.test(), (error: Error) => {
      assert.match(
        failureText(error),
        /PROBLEM: SR "NFS storage" on host "host1": server unreachable: probe tcp:nfs\.lab:2049 got no answer/,
      )
      assert.match(
        failureText(error),
        /PROBLEM: SR "SMB share" on host "host1": plug failed: SR_BACKEND_FAILURE_111 \/ SMB mount error/,
      )
      return true
    })
    assert.equal(attached(nfs.pbds[0]!), false)
  })

  it('reports a failed task with its xapi error (an older host plugin without plug-srs)', async () => {
    const { plugin, config, xapi, vm, vif, hosts, log } = ctx
    xapi.pluginOf(hosts[0]).plugSrsFailure = Object.assign(new Error('unknown'), {
      code: 'UNKNOWN_XENAPI_PLUGIN_FUNCTION',
      params: ['plug-srs'],
    })
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(
      log.matching(
        'warn',
        /plug-srs on host "host1" for SR "NFS storage" failed: UNKNOWN_XENAPI_PLUGIN_FUNCTION \["plug-srs"\]/,
      ).length,
      1,
    )
    await assert.rejects(
      plugin.test(),
      failureMatching(/PROBLEM: SR "NFS storage" on host "host1": plug-srs failed: UNKNOWN_XENAPI_PLUGIN_FUNCTION/),
    )
  })

  it('gives up waiting for a task after the host timeout plus a margin', async () => {
    await ctx.plugin.unload()
    ctx = setup({ plugSrs: { timeoutSeconds: 0, waitMarginMs: 30 } })
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    xapi.pluginOf(hosts[0]).plugGate = new Promise(() => undefined) // never answers
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.pluginCalls('plug-srs')[0]!.args!.timeout, '0')
    await assert.rejects(
      plugin.test(),
      failureMatching(/PROBLEM: SR "NFS storage" on host "host1": plug-srs failed: VIF_IP_BINDER_XO_TIMEOUT/),
    )
  })

  it("replaces a bad timeout from xo-server's config by the default, saying so", async () => {
    await ctx.plugin.unload()
    ctx = setup({ plugSrs: { timeoutSeconds: 99_999 } })
    const { plugin, config, xapi, vm, vif, hosts, log } = ctx
    assert.equal(
      log.matching('warn', /plugSrs\.timeoutSeconds 99999 is not a whole number of seconds from 0 to 3600: using 120/)
        .length,
      1,
    )
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    assert.equal(xapi.pluginCalls('plug-srs')[0]!.args!.timeout, '120')
  })

  it('shows the last outcome per host once the VM is stopped, without calling it a problem', async () => {
    const { plugin, config, xapi, vm, vif, hosts } = ctx
    xapi.pluginOf(hosts[0]).unreachable.add(ctx.nfs.sr.uuid)
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    xapi.update(vif, { currently_attached: false })
    xapi.update(vm, { power_state: 'Halted', resident_on: 'OpaqueRef:NULL' })
    await plugin.whenIdle()
    const report = await plugin.test()
    assert.equal(report.ok, true)
    assert.match(report.text, /SR "NFS storage" on host "host1", last time the VM ran there: server unreachable/)
  })

  it('unload stops waiting, records nothing, and keeps earlier outcomes', async () => {
    const { plugin, config, xapi, vm, vif, hosts, log } = ctx
    await plugin.configure(config, { loaded: false })
    await plugin.load()
    startOn(xapi, vm, vif, hosts[0])
    await plugin.whenIdle()
    const slow = gate()
    xapi.pluginOf(hosts[0]).plugGate = slow.promise
    await plugin.configure({ bindings: [{ ...config.bindings[0]!, addresses: ['192.168.1.3/24'] }] }, { loaded: true })
    await waitUntil(() => xapi.pluginCalls('plug-srs').length === 2)
    await plugin.unload()
    await plugin.load()
    await plugin.whenIdle()
    assert.match((await plugin.test()).text, /SR "NFS storage" on host "host1": plugged/)
    assert.equal(log.entries.filter(e => /plug-srs .*failed/.test(e.message)).length, 0)
    slow.open()
  })
})

async function waitUntil(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
