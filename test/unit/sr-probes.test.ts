// Which server an SR waits for, read from its PBD's device_config as XCP-ng's SM drivers
// read it: NFSSR (server, serverpath, nfsversion), SMBSR (server `\\host\share`), ISOSR
// (location `server:/path` or `//host/share`, type nfs_iso|cifs), LVHDoISCSISR (target
// list, port). Anything else is reported as unknown, never taken for local storage.

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type SrProbe, srProbe } from '../../shared/probes.ts'

const tcp = (host: string, port: number) => ({ kind: 'tcp', host, port })
const network = (...probes: ReturnType<typeof tcp>[]): SrProbe => ({ kind: 'network', probes }) as SrProbe

describe('SR probes from device_config', () => {
  const shapes: [string, string, Record<string, string>, SrProbe][] = [
    ['NFS v3', 'nfs', { server: '10.0.0.5', serverpath: '/export/vms' }, network(tcp('10.0.0.5', 2049))],
    [
      'NFS v4 by name',
      'nfs',
      { server: 'nas.lan', serverpath: '/vms', nfsversion: '4.1' },
      network(tcp('nas.lan', 2049)),
    ],
    ['NFS over IPv6', 'nfs', { server: 'fd00::5', serverpath: '/vms' }, network(tcp('fd00::5', 2049))],
    ['SMB \\\\host\\share', 'smb', { server: '\\\\nas\\vms', username: 'u' }, network(tcp('nas', 445))],
    ['SMB //host/share', 'smb', { server: '//10.0.0.6/vms' }, network(tcp('10.0.0.6', 445))],
    ['CIFS with location', 'cifs', { location: '//10.0.0.6/vms' }, network(tcp('10.0.0.6', 445))],
    ['ISO library on NFS', 'iso', { location: '10.0.0.8:/isos', type: 'nfs_iso' }, network(tcp('10.0.0.8', 2049))],
    ['ISO library on NFS, no type', 'iso', { location: 'nas.lan:/isos' }, network(tcp('nas.lan', 2049))],
    [
      'ISO library on NFS over IPv6',
      'iso',
      { location: '[fd00::8]:/isos', type: 'nfs_iso' },
      network(tcp('fd00::8', 2049)),
    ],
    [
      'ISO library on SMB //host/share',
      'iso',
      { location: '//10.0.0.9/isos', type: 'cifs', username: 'u', cifspassword: 'p' },
      network(tcp('10.0.0.9', 445)),
    ],
    [
      'ISO library on SMB \\\\host\\share',
      'iso',
      { location: '\\\\nas\\isos', type: 'cifs' },
      network(tcp('nas', 445)),
    ],
    ['ISO library on SMB, no type', 'iso', { location: '//nas/isos' }, network(tcp('nas', 445))],
    ['local ISO library', 'iso', { location: '/var/opt/xen/iso_import', legacy_mode: 'true' }, { kind: 'local' }],
    [
      'iSCSI, one portal',
      'lvmoiscsi',
      { target: '10.0.0.7', targetIQN: 'iqn.2026-01.lan:vms', SCSIid: '36001' },
      network(tcp('10.0.0.7', 3260)),
    ],
    [
      'iSCSI, a target list and a port',
      'lvmoiscsi',
      { target: '10.0.0.7, 10.0.0.8', port: '3261', targetIQN: '*' },
      network(tcp('10.0.0.7', 3261), tcp('10.0.0.8', 3261)),
    ],
    ['local LVM', 'lvm', { device: '/dev/sda3' }, { kind: 'local' }],
    ['local EXT', 'ext', { device: '/dev/sdb' }, { kind: 'local' }],
  ]
  for (const [what, type, config, expected] of shapes) {
    test(what, () => assert.deepEqual(srProbe(type, config), expected))
  }

  test('an unknown SR type is reported and pinged at the host it names', () => {
    assert.deepEqual(srProbe('moosefs', { masterhost: 'x', server: '10.0.0.11' }), {
      kind: 'unknown',
      reason: 'SR type "moosefs" is not one this plugin knows',
      probes: [{ kind: 'icmp', address: '10.0.0.11' }],
    })
  })

  test('a known type with a device_config its driver would refuse is reported', () => {
    const probe = srProbe('nfs', { serverpath: '/vms' })
    assert.equal(probe.kind, 'unknown')
    assert.match((probe as { reason: string }).reason, /nfs device_config: no server/)
    assert.equal(srProbe('iso', { location: 'nas.lan/isos', type: 'nfs_iso' }).kind, 'unknown')
    assert.equal(srProbe('iso', { location: '//nas/isos', type: 'ftp' }).kind, 'unknown')
    assert.equal(srProbe('lvmoiscsi', { target: '10.0.0.7', port: 'x' }).kind, 'unknown')
  })

  test('an unknown shape naming no host has nothing to ping', () => {
    assert.deepEqual(srProbe('nfs', { server: 'bad host!' }), {
      kind: 'unknown',
      reason: 'nfs device_config: device_config: "bad host!" does not name a host',
      probes: [],
    })
  })
})
