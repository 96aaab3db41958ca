// PBD.plug on the firewall pool: the NFS server is reachable from dom0 only through the
// firewall VM, so the plug fails while the firewall is down (or dom0 has no address on
// its private bridge) and succeeds once the firewall runs, routes, and dom0 is bound.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { FIREWALL_POOL } from './scenarios/firewall-pool.ts'
import { type Simulator, startSimulator } from './simulator.ts'
import { storageTarget } from './storage.ts'
import { login, rpc } from './test-helpers.ts'

describe('storage targets from device_config', () => {
  it('NFS 2049, SMB 445 (\\\\host\\share or //host/share), ISO by location and type, iSCSI portals', () => {
    const servers = (type: string, config: Record<string, string>) => storageTarget(type, config).servers
    assert.deepEqual(servers('nfs', { server: '10.0.0.1', serverpath: '/x' }), [{ host: '10.0.0.1', port: 2049 }])
    assert.deepEqual(servers('smb', { server: '\\\\files\\vms' }), [{ host: 'files', port: 445 }])
    assert.deepEqual(servers('iso', { location: '//10.0.0.2/iso', type: 'cifs' }), [{ host: '10.0.0.2', port: 445 }])
    assert.deepEqual(servers('iso', { location: '10.0.0.2:/iso', type: 'nfs_iso' }), [{ host: '10.0.0.2', port: 2049 }])
    assert.deepEqual(servers('lvmoiscsi', { target: '10.0.0.3,10.0.0.4', port: '3261', targetIQN: 'iqn.x' }), [
      { host: '10.0.0.3', port: 3261 },
      { host: '10.0.0.4', port: 3261 },
    ])
    assert.throws(() => storageTarget('nfs', { serverpath: '/x' }), { code: 'SR_BACKEND_FAILURE_1' })
    assert.throws(() => storageTarget('zfs', {}), { code: 'SR_UNKNOWN_DRIVER' })
  })
})

describe('PBD.plug through the firewall VM', () => {
  let sim: Simulator
  let session: string
  let pbd: string

  before(async () => {
    sim = await startSimulator({ scenario: 'firewall-pool', hostPlugin: true })
    sim.storage.probeTimeoutMs = 800
    session = await login(sim)
    pbd = sim.pbds(FIREWALL_POOL.srName).host1!
  })
  after(async () => sim?.stop())

  it('fails while the firewall VM is down, with the SM error for NFS', async () => {
    await assert.rejects(rpc(sim, 'PBD.plug', session, pbd), (e: any) => {
      assert.equal(e.code, 'SR_BACKEND_FAILURE_73')
      assert.match(e.params[1], /NFS mount error/)
      return true
    })
    assert.equal(sim.record('PBD', pbd).currently_attached, false)
    assert.ok(sim.timeline.entries({ kind: 'pbd.plug-failed' }).length >= 1)
  })

  it('still fails with the firewall running but dom0 not bound to the private bridge', async () => {
    await rpc(sim, 'VM.start', session, sim.vm(FIREWALL_POOL.firewallVm).ref, false, false)
    await assert.rejects(rpc(sim, 'PBD.plug', session, pbd), { code: 'SR_BACKEND_FAILURE_73' })
  })

  it('succeeds once dom0 is bound (host plugin apply) and routes through the firewall', async () => {
    await rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'apply', {
      bridge: FIREWALL_POOL.privateBridge,
      addresses: `${FIREWALL_POOL.hostAddresses[0]}/24`,
      gateway: FIREWALL_POOL.firewallPrivateAddress,
    })
    assert.equal(await rpc(sim, 'PBD.plug', session, pbd), '')
    assert.equal(sim.record('PBD', pbd).currently_attached, true)
    assert.equal(sim.timeline.entries({ kind: 'pbd.plugged' }).length, 1)
    // plugging a plugged PBD is a no-op
    await rpc(sim, 'PBD.plug', session, pbd)
  })

  it('host2 (no firewall there) still cannot plug; PBD.unplug detaches', async () => {
    await assert.rejects(rpc(sim, 'PBD.plug', session, sim.pbds(FIREWALL_POOL.srName).host2!), {
      code: 'SR_BACKEND_FAILURE_73',
    })
    await rpc(sim, 'PBD.unplug', session, pbd)
    assert.equal(sim.record('PBD', pbd).currently_attached, false)
  })

  it('fails again once the firewall stops (the private bridge and its route are gone)', async () => {
    await rpc(sim, 'VM.hard_shutdown', session, sim.vm(FIREWALL_POOL.firewallVm).ref)
    await assert.rejects(rpc(sim, 'PBD.plug', session, pbd), { code: 'SR_BACKEND_FAILURE_73' })
  })
})
