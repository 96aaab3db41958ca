// Every network SR type, created with the device_config XCP-ng's SM drivers and
// `xe sr-create` use, behind the firewall VM: PBD.plug fails for each while its server
// is unreachable, and the host plugin's plug-srs plugs each once the server answers,
// having derived where to wait from that device_config alone.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { SrOutcome } from '../../shared/results.ts'
import type { ScenarioDefinition } from './scenario.ts'
import { FIREWALL_POOL as F, firewallPool } from './scenarios/firewall-pool.ts'
import { type Simulator, startSimulator } from './simulator.ts'
import { login, rpc } from './test-helpers.ts'

const SMB_SHARE = `\\\\${F.nfsServer}\\vms`

/** name, type, device_config and the SM error while the server is unreachable. */
const NETWORK_SRS: [string, 'nfs' | 'smb' | 'iso' | 'lvmoiscsi', Record<string, string>, string][] = [
  ['NFS v3', 'nfs', { server: F.nfsServer, serverpath: '/export/vms', nfsversion: '3' }, 'SR_BACKEND_FAILURE_73'],
  ['NFS v4', 'nfs', { server: F.nfsServer, serverpath: '/vms', nfsversion: '4.1' }, 'SR_BACKEND_FAILURE_73'],
  ['SMB', 'smb', { server: SMB_SHARE, username: 'xcp', password: 'secret' }, 'SR_BACKEND_FAILURE_111'],
  ['ISO on NFS', 'iso', { location: `${F.nfsServer}:/isos`, type: 'nfs_iso' }, 'SR_BACKEND_FAILURE_222'],
  ['ISO on SMB', 'iso', { location: `//${F.nfsServer}/isos`, type: 'cifs', username: 'xcp' }, 'SR_BACKEND_FAILURE_222'],
  [
    'iSCSI',
    'lvmoiscsi',
    { target: `10.78.0.99,${F.nfsServer}`, port: '3261', targetIQN: '*', SCSIid: '36001405' },
    'SR_BACKEND_FAILURE_68',
  ],
]

function storagePool(): ScenarioDefinition {
  const scenario = firewallPool()
  scenario.externals![0]!.listen = [2049, 445, 3261]
  scenario.srs = NETWORK_SRS.map(([name, type, device_config]) => ({ name, type, device_config, shared: true }))
  return scenario
}

describe('network SR types behind the firewall VM', () => {
  let sim: Simulator
  let session: string
  const uuids = () => NETWORK_SRS.map(([name]) => sim.record('SR', name).uuid as string)
  const plugSrs = async (timeout: string) =>
    JSON.parse(
      (await rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'plug-srs', {
        srs: uuids().join(','),
        timeout,
      })) as string,
    ) as { srs: SrOutcome[] }

  before(async () => {
    sim = await startSimulator({ scenario: storagePool(), hostPlugin: true })
    sim.storage.probeTimeoutMs = 500
    session = await login(sim)
  })
  after(async () => sim?.stop())

  for (const [name, , , failure] of NETWORK_SRS) {
    it(`PBD.plug of the ${name} SR fails with ${failure} while its server is unreachable`, async () => {
      await assert.rejects(rpc(sim, 'PBD.plug', session, sim.pbds(name).host1!), { code: failure })
    })
  }

  it('plug-srs waits for each server (derived from device_config) and reports it unreachable', async () => {
    const result = await plugSrs('1')
    assert.deepEqual(
      result.srs.map(s => [s.name, s.storage, s.ok, s.pbds.map(p => p.outcome)]),
      NETWORK_SRS.map(([name]) => [name, 'network', false, ['unreachable']]),
    )
    assert.deepEqual(
      result.srs.map(s => s.probe?.target),
      [
        `tcp:${F.nfsServer}:2049`,
        `tcp:${F.nfsServer}:2049`,
        `tcp:${F.nfsServer}:445`,
        `tcp:${F.nfsServer}:2049`,
        `tcp:${F.nfsServer}:445`,
        `tcp:10.78.0.99:3261, tcp:${F.nfsServer}:3261`,
      ],
    )
  })

  it('plugs every SR once the firewall routes and dom0 is bound', async () => {
    await rpc(sim, 'VM.start_on', session, sim.vm(F.firewallVm).ref, sim.host('host1').ref, false, false)
    await rpc(sim, 'host.call_plugin', session, sim.host('host1').ref, 'vif-ip-binder', 'apply', {
      bridge: F.privateBridge,
      addresses: `${F.hostAddresses[0]}/24`,
      gateway: F.firewallPrivateAddress,
    })
    const result = await plugSrs('30')
    assert.deepEqual(
      result.srs.map(s => [s.name, s.ok, s.pbds.map(p => p.outcome)]),
      NETWORK_SRS.map(([name]) => [name, true, ['plugged']]),
    )
    for (const [name] of NETWORK_SRS) assert.equal(sim.record('PBD', sim.pbds(name).host1!).currently_attached, true)
  })
})
