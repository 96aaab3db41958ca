// The compiled executable itself: what dom0 needs of it, and its three ways in.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { execa } from 'execa'
import { assertRunsOnDom0 } from '../helpers/elf.ts'
import {
  HOST_PLUGIN,
  callOk,
  parseReply,
  pythonEncodedCall,
  runByHand,
  runPluginXml,
  xapiEncodedCall,
} from '../helpers/host-plugin.ts'
import { DOM0_4, FW4, addressesOf, withTopology } from './topology.ts'

test('the executable is one ELF needing at most GLIBC_2.17 (dom0 is CentOS 7 based)', () =>
  assertRunsOnDom0(HOST_PLUGIN))

test('version answers with the plugin name, a semver and the protocol', () =>
  withTopology(async ({ dom0, root }) => {
    const value = await callOk<{ name: string; version: string; protocol: number }>(dom0, root, 'version')
    assert.equal(value.name, 'vif-ip-binder')
    assert.match(value.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/)
    assert.equal(value.protocol, 1)
  }))

test("a call in Python's encoding (<string>, XML prolog, entities) works like xapi's", () =>
  withTopology(async ({ dom0, root }) => {
    const xml = await pythonEncodedCall('apply', {
      bridge: 'xapi1',
      addresses: DOM0_4,
      gateway: FW4,
      'dry-run': 'true',
    })
    assert.match(xml, /<string>/)
    const reply = await parseReply((await runPluginXml(dom0, xml, { root })).stdout)
    assert.equal(reply.status, 'Success')
    // Entities decode: an ampersand in a value is data, and makes a named error.
    const bad = await pythonEncodedCall('apply', { bridge: 'xapi1', addresses: '192.0.2.2/24&<x>' })
    assert.match(bad, /&amp;&lt;x&gt;/)
    const badReply = await parseReply((await runPluginXml(dom0, bad, { root })).stdout)
    assert.equal(badReply.status === 'Failure' && badReply.errorDescription[1]?.includes('192.0.2.2/24&<x>'), true)
  }))

test('run by hand: JSON on stdout and exit 0; errors on stderr with a code and exit 1', () =>
  withTopology(async ({ dom0, root }) => {
    const ok = await runByHand(dom0, root, ['apply', 'bridge=xapi1', `addresses=${DOM0_4}`, `gateway=${FW4}`])
    assert.equal(ok.exitCode, 0, ok.stderr)
    assert.ok(Array.isArray(JSON.parse(ok.stdout).changes))
    assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_4])

    const bad = await runByHand(dom0, root, ['apply', 'bridge=xapi1', 'addresses=nope'])
    assert.equal(bad.exitCode, 1)
    assert.equal(bad.stdout, '')
    assert.match(bad.stderr, /^VIF_IP_BINDER_INVALID_ARGUMENT: addresses: "nope"/m)

    const words = await runByHand(dom0, root, ['apply', 'bridge'])
    assert.equal(words.exitCode, 2)
    assert.match(words.stderr, /expected key=value, got "bridge"/)

    const help = await runByHand(dom0, root, ['--help'])
    assert.equal(help.exitCode, 0)
    assert.match(help.stdout, /^usage: vif-ip-binder FUNCTION/)
  }))

// A syslog socket where dom0 has one (/dev/log under the simulated root): a datagram
// listener in Python, since Node cannot bind unix datagram sockets.
const SYSLOG_LISTENER = `
import os, socket, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path), exist_ok=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("ready", flush=True)
s.settimeout(15)
while True:
    data = s.recv(65536).decode(errors="replace")
    print(data, flush=True)
    if "VIF_IP_BINDER_NO_SUCH_DEVICE" in data:
        break
`

test('logs go to syslog when /dev/log exists, never to stdout', () =>
  withTopology(async ({ dom0, root }) => {
    const listener = execa('python3', ['-c', SYSLOG_LISTENER, `${root}/dev/log`], { reject: false })
    try {
      await new Promise<void>(resolve => listener.stdout!.once('data', () => resolve()))
      const run = await runPluginXml(dom0, xapiEncodedCall('apply', { bridge: 'xapi7', addresses: DOM0_4 }), { root })
      assert.match(run.stdout, /^<methodResponse>.*<\/methodResponse>$/s, 'stdout is the answer alone')
      assert.equal(run.stderr, '', 'with syslog, nothing on stderr')
      const { stdout } = await listener
      assert.match(stdout, /vif-ip-binder\[\d+\]: err: apply failed .*VIF_IP_BINDER_NO_SUCH_DEVICE.*xapi7/)
    } finally {
      listener.kill()
    }
  }))
