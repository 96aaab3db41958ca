// Validate everything before touching anything: each bad call fails with a stable code and
// a message naming the bad value, and the kernel's addresses and routes are byte-for-byte
// what they were.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { callPlugin, parseReply, runPluginXml } from '../helpers/host-plugin.ts'
import { DOM0_4, DOM0_6, FW4, FW6, kernelSnapshot, withTopology } from './topology.ts'

const INVALID = 'VIF_IP_BINDER_INVALID_ARGUMENT'
const NO_DEVICE = 'VIF_IP_BINDER_NO_SUCH_DEVICE'

interface BadCall {
  fn: string
  args: Record<string, string>
  code: string
  /** Text the message must contain: the offending value. */
  names: string
}

const base = { bridge: 'xapi1', addresses: DOM0_4 }
const apply = (args: Record<string, string>, names: string, code = INVALID): BadCall => ({
  fn: 'apply',
  args: { ...base, ...args },
  code,
  names,
})

const corpus: BadCall[] = [
  // Malformed and out-of-range CIDRs
  apply({ addresses: '192.0.2.2/33' }, '192.0.2.2/33'),
  apply({ addresses: '192.0.2.256/24' }, '192.0.2.256/24'),
  apply({ addresses: '192.0.2/24' }, '192.0.2/24'),
  apply({ addresses: '010.0.0.2/8' }, '010.0.0.2/8'),
  apply({ addresses: '192.0.2.2' }, '192.0.2.2'),
  apply({ addresses: '192.0.2.2/' }, '192.0.2.2/'),
  apply({ addresses: '192.0.2.2/-1' }, '192.0.2.2/-1'),
  apply({ addresses: '192.0.2.2/0' }, '192.0.2.2/0'),
  apply({ addresses: '2001:db8::2/129' }, '2001:db8::2/129'),
  apply({ addresses: 'fe80::2%eth0/64' }, 'fe80::2%eth0/64'),
  apply({ addresses: '2001:db8:::2/64' }, '2001:db8:::2/64'),
  apply({ addresses: '224.0.0.5/24' }, '224.0.0.5/24'),
  apply({ addresses: '127.0.0.2/8' }, '127.0.0.2/8'),
  apply({ addresses: '0.0.0.0/8' }, '0.0.0.0/8'),
  apply({ addresses: '192.0.2.0/24' }, '192.0.2.0/24'),
  apply({ addresses: '192.0.2.255/24' }, '192.0.2.255/24'),
  apply({ addresses: `${DOM0_4},,${DOM0_6}` }, `${DOM0_4},,${DOM0_6}`),
  apply({ addresses: `${DOM0_4},${DOM0_4}` }, DOM0_4),
  apply({ addresses: '' }, 'addresses'),
  // Gateways
  apply({ gateway: FW6 }, FW6),
  apply({ gateway: '198.51.100.1' }, '198.51.100.1'),
  apply({ gateway: `${FW4},192.0.2.3` }, '192.0.2.3'),
  apply({ gateway: '192.0.2.2' }, '192.0.2.2'),
  apply({ gateway: 'firewall.lan' }, 'firewall.lan'),
  // Routes
  apply({ routes: '198.51.100.1/24=192.0.2.1' }, '198.51.100.1/24'),
  apply({ routes: '198.51.100.0/24=2001:db8:77::1' }, '198.51.100.0/24=2001:db8:77::1'),
  apply({ routes: '0.0.0.0/0=192.0.2.1' }, '0.0.0.0/0'),
  apply({ routes: '198.51.100.0/24=192.0.2.1=x' }, '192.0.2.1=x'),
  // Interface names
  apply({ bridge: 'xapi1;reboot' }, 'xapi1;reboot'),
  apply({ bridge: '$(reboot)' }, '$(reboot)'),
  apply({ bridge: '`reboot`' }, '`reboot`'),
  apply({ bridge: '../../etc' }, '../../etc'),
  apply({ bridge: 'a-very-long-bridge-name' }, 'a-very-long-bridge-name'),
  apply({ bridge: 'xapi 1' }, 'xapi 1'),
  apply({ bridge: 'xapi9' }, 'xapi9', NO_DEVICE),
  apply({ 'management-address': '192.0.2.2', 'management-bridge': 'xenbr9' }, 'xenbr9', NO_DEVICE),
  apply({ 'management-bridge': 'xenbr0' }, 'management-address'),
  // Without a management bridge or with a network UUID the host asks xapi; here there is none.
  apply({ 'management-address': '192.0.2.2' }, 'etc/xensource-inventory', 'VIF_IP_BINDER_XAPI_UNREACHABLE'),
  {
    fn: 'apply',
    args: { network: '6d2b1a3e-2f4c-4d5e-9a8b-7c6d5e4f3a2b', addresses: DOM0_4 },
    code: 'VIF_IP_BINDER_XAPI_UNREACHABLE',
    names: 'var/lib/xcp/xapi',
  },
  { fn: 'apply', args: { network: 'xapi1', addresses: DOM0_4 }, code: INVALID, names: '"xapi1" is not a UUID' },
  {
    fn: 'apply',
    args: { network: '6d2b1a3e-2f4c-4d5e-9a8b-7c6d5e4f3a2b', addresses: 'nope' },
    code: INVALID,
    names: '"nope"',
  },
  apply({ network: '6d2b1a3e-2f4c-4d5e-9a8b-7c6d5e4f3a2b' }, 'bridge or network, not both'),
  apply({ 'management-address': '192.0.2.2/32', 'management-bridge': 'xenbr0' }, '192.0.2.2/32'),
  // Shell metacharacters are only bad values
  apply({ addresses: '192.0.2.2/24;ip link del xapi1' }, '192.0.2.2/24;ip link del xapi1'),
  apply({ addresses: '192.0.2.2/24 && reboot' }, '192.0.2.2/24 && reboot'),
  apply({ gateway: '192.0.2.1|id' }, '192.0.2.1|id'),
  apply({ routes: "198.51.100.0/24=192.0.2.1'" }, "192.0.2.1'"),
  apply({ 'gateway-check': '$((1+1))' }, '$((1+1))'),
  // Booleans, numbers, unknown keys
  apply({ 'proxy-arp': 'yes' }, 'yes'),
  apply({ forwarding: 'TRUE' }, 'TRUE'),
  apply({ 'gateway-check': '301' }, '301'),
  apply({ 'gateway-check': '-1' }, '-1'),
  apply({ 'dry-run': '1' }, '1'),
  apply({ adresses: DOM0_4 }, 'adresses'),
  apply({ Gateway: FW4 }, 'Gateway'),
  { fn: 'release', args: { bridge: 'xapi1', force: 'true' }, code: INVALID, names: 'force' },
  { fn: 'release', args: {}, code: INVALID, names: 'bridge' },
  { fn: 'release', args: { bridge: 'x;y' }, code: INVALID, names: 'x;y' },
  { fn: 'status', args: { bridge: 'x y' }, code: INVALID, names: 'x y' },
  { fn: 'version', args: { verbose: 'true' }, code: INVALID, names: 'verbose' },
  { fn: 'reboot', args: {}, code: 'UNKNOWN_XENAPI_PLUGIN_FUNCTION', names: 'reboot' },
]

test(`${corpus.length} bad calls fail with a coded error naming the value and leave the kernel untouched`, () =>
  withTopology(async ({ dom0, root }) => {
    assert.ok(corpus.length >= 30)
    const before = await kernelSnapshot(dom0)
    for (const bad of corpus) {
      const reply = await callPlugin(dom0, root, bad.fn, bad.args)
      const label = `${bad.fn} ${JSON.stringify(bad.args)}`
      assert.equal(reply.status, 'Failure', label)
      if (reply.status !== 'Failure') continue
      assert.equal(reply.errorDescription[0], bad.code, label)
      assert.ok(
        reply.errorDescription.slice(1).some(part => part.includes(bad.names)),
        `${label}: ${JSON.stringify(reply.errorDescription)} should name ${JSON.stringify(bad.names)}`,
      )
      assert.deepEqual(await kernelSnapshot(dom0), before, label)
    }
  }))

test('a document that is not an XML-RPC call is refused with a coded error', () =>
  withTopology(async ({ dom0, root }) => {
    for (const xml of [
      '<methodCall>',
      '<methodCall><params/></methodCall>',
      '<!DOCTYPE x [<!ENTITY a "b">]><methodCall/>',
    ]) {
      const run = await runPluginXml(dom0, xml, { root })
      assert.equal(run.exitCode, 0, 'failures travel in the answer, as XenAPIPlugin.py does')
      const reply = await parseReply(run.stdout)
      assert.equal(reply.status === 'Failure' && reply.errorDescription[0], INVALID, xml)
    }
  }))
