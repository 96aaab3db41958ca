// Pure pieces of the host's autonomy: probes, plug-srs arguments and cadence, the
// vif-hotplug command line, the inventory, and which start errors are worth retrying.

import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parsePlugSrsArgs } from '../../shared/plugin-args.ts'
import { parseProbe, probeText } from '../../shared/probes.ts'
import { parseHotplugArgv } from '../../xapi-plugin/functions/hotplug.ts'
import { workerCommand } from '../../xapi-plugin/runtime/detached.ts'
import { XapiError, parseInventory } from '../../xapi-plugin/xapi/local-xapi.ts'
import { probeDelayMs } from '../../xapi-plugin/functions/plug-srs.ts'
import { isStorageNotReady } from '../../xapi-plugin/functions/rescue.ts'

const SR = '3f8e9a2c-1b2d-4c5e-8f90-a1b2c3d4e5f6'
const VIF = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'

describe('probes', () => {
  const good: [string, string][] = [
    ['icmp:10.0.0.5', 'icmp:10.0.0.5'],
    ['icmp:2001:DB8::5', 'icmp:2001:db8::5'],
    ['tcp:10.0.0.5:2049', 'tcp:10.0.0.5:2049'],
    ['tcp:[2001:db8::5]:445', 'tcp:[2001:db8::5]:445'],
    ['tcp:nas.lan:3260', 'tcp:nas.lan:3260'],
  ]
  for (const [text, canonical] of good)
    test(`${text} parses`, () => assert.equal(probeText(parseProbe(text)), canonical))

  const bad = [
    'ping:10.0.0.5',
    'icmp:10.0.0',
    'tcp:10.0.0.5',
    'tcp:10.0.0.5:0',
    'tcp:10.0.0.5:65536',
    'tcp:[10.0.0.5]:80',
    'tcp:a b:80',
    'tcp:x;reboot:80',
    'icmp:$(id)',
  ]
  for (const text of bad) {
    test(`${JSON.stringify(text)} is refused by name`, () =>
      assert.throws(
        () => parseProbe(text),
        (e: Error & { code?: string }) =>
          e.code === 'VIF_IP_BINDER_INVALID_ARGUMENT' && e.message.includes(JSON.stringify(text)),
      ))
  }
})

describe('plug-srs arguments', () => {
  test('SRs, probes and timeout', () => {
    const request = parsePlugSrsArgs({ srs: SR.toUpperCase(), probes: `${SR}=icmp:10.0.0.5`, timeout: '30' })
    assert.deepEqual(request, {
      srs: [SR],
      probes: { [SR]: { kind: 'icmp', address: '10.0.0.5' } },
      timeoutSeconds: 30,
    })
    assert.equal(parsePlugSrsArgs({ srs: SR }).timeoutSeconds, 120)
  })
  const bad: [Record<string, string>, string][] = [
    [{}, 'srs'],
    [{ srs: 'nope' }, '"nope"'],
    [{ srs: `${SR},${SR}` }, 'listed twice'],
    [{ srs: SR, probes: `${VIF}=icmp:10.0.0.5` }, 'not listed in srs'],
    [{ srs: SR, probes: `${SR}=icmp:10.0.0.5,${SR}=icmp:10.0.0.6` }, 'a second probe'],
    [{ srs: SR, probes: 'icmp:10.0.0.5' }, 'not <sr-uuid>=<probe>'],
    [{ srs: SR, timeout: '3601' }, '"3601"'],
    [{ srs: SR, force: 'true' }, '"force"'],
  ]
  for (const [args, names] of bad) {
    test(`refuses ${JSON.stringify(args)}`, () =>
      assert.throws(
        () => parsePlugSrsArgs(args),
        (e: Error) => e.message.includes(names),
      ))
  }
})

test('probe cadence: 250 ms while the firewall comes up, then backing off to 2 s', () => {
  const delays = Array.from({ length: 30 }, (_, i) => probeDelayMs(i + 1))
  assert.ok(delays.slice(0, 20).every(d => d === 250))
  assert.ok(
    delays.every((d, i) => i === 0 || d >= delays[i - 1]!),
    'never faster again',
  )
  assert.equal(delays.at(-1), 2000)
})

describe('vif-hotplug command line', () => {
  test('as the vif script passes it, in any order', () => {
    assert.deepEqual(parseHotplugArgv(['-action', 'online', '-vifuuid', VIF, '-vmuuid', SR]), {
      action: 'online',
      vif: VIF,
      vm: SR,
    })
    assert.deepEqual(parseHotplugArgv(['-vmuuid', SR, '-action', 'remove', '-vifuuid', VIF]), {
      action: 'remove',
      vif: VIF,
      vm: SR,
    })
  })
  for (const argv of [
    ['-action', 'offline', '-vifuuid', VIF, '-vmuuid', SR],
    ['-action', 'online', '-vifuuid', 'x', '-vmuuid', SR],
    ['-action', 'online', '-vif', VIF],
    ['-action'],
  ]) {
    test(`refuses ${argv.join(' ')}`, () =>
      assert.throws(() => parseHotplugArgv(argv), { code: 'VIF_IP_BINDER_INVALID_ARGUMENT' }))
  }
})

test("dom0's inventory", () => {
  const inventory = parseInventory(`PRODUCT_BRAND='XCP-ng'\nINSTALLATION_UUID='${SR}'\nCONTROL_DOMAIN_UUID='${VIF}'\n`)
  assert.equal(inventory.INSTALLATION_UUID, SR)
  assert.equal(inventory.CONTROL_DOMAIN_UUID, VIF)
})

test('a VM start is retried only when storage is not back yet', () => {
  assert.equal(isStorageNotReady(new XapiError('SR_BACKEND_FAILURE_73', ['', 'NFS mount error', ''])), true)
  assert.equal(isStorageNotReady(new XapiError('VM_REQUIRES_SR', ['OpaqueRef:vm', 'OpaqueRef:sr'])), true)
  assert.equal(isStorageNotReady(new XapiError('VDI_MISSING', [])), true)
  assert.equal(isStorageNotReady(new XapiError('HOST_NOT_ENOUGH_FREE_MEMORY', [])), false)
  assert.equal(isStorageNotReady(new XapiError('VM_BAD_POWER_STATE', [])), false)
  assert.equal(isStorageNotReady(new Error('SR_BACKEND_FAILURE')), false, 'only xapi errors')
})

test("the hook worker leaves udev's cgroup through systemd-run where systemd runs the host", () => {
  const root = mkdtempSync(join(tmpdir(), `vib-unit-${process.pid}-`))
  try {
    const args = ['hotplug-worker', 'action=online']
    assert.deepEqual(workerCommand(root, '/opt/x', args, true), ['/opt/x', args], 'no systemd: a detached process')
    mkdirSync(join(root, 'run/systemd/system'), { recursive: true })
    const [command, argv] = workerCommand(root, '/opt/x', args, true)
    assert.equal(command, 'systemd-run')
    assert.deepEqual(argv.slice(0, 2), ['--scope', '--quiet'])
    assert.match(argv[2]!, /^--unit=vif-ip-binder-hotplug-\d+$/)
    assert.deepEqual(argv.slice(3), ['/opt/x', ...args])
    assert.deepEqual(
      workerCommand(root, '/opt/x', args, false),
      ['/opt/x', args],
      'no systemd-run binary: a detached process',
    )
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
