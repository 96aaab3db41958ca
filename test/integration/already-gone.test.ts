// "Already gone" is decided by asking the kernel again, never by reading ip's error text:
// that text changes with iproute's version (modern ip reports the kernel's extended ack,
// "Address not found", where CentOS 7's says "Cannot assign requested address") and glibc
// translates strerror into the admin's language.

import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { execa } from 'execa'
import { callPlugin, runPluginXml, parseReply, xapiEncodedCall } from '../helpers/host-plugin.ts'
import { createBridge, ip } from '../helpers/netns.ts'
import { DOM0_4, FW4, addressesOf, withTopology } from './topology.ts'

/** A French locale compiled into the test's own root (glibc's libc.mo comes from the system). */
async function frenchLocale(root: string): Promise<Record<string, string>> {
  const dir = join(root, 'locale')
  mkdirSync(dir)
  await execa('localedef', ['-i', 'fr_FR', '-f', 'UTF-8', join(dir, 'fr_FR.UTF-8')])
  return { LOCPATH: dir, LANG: 'fr_FR.UTF-8', LC_ALL: 'fr_FR.UTF-8' }
}

const MIRROR = `${DOM0_4.split('/')[0]}/32`

test('a mirror removed by hand is "already gone" in any language: the next apply moves it and succeeds', () =>
  withTopology(async ({ dom0, root }) => {
    const locale = await frenchLocale(root)
    // The environment really translates: glibc answers in French for a program that asks.
    const probe = await execa(
      'ip',
      ['netns', 'exec', dom0, 'env', ...Object.entries(locale).map(([k, v]) => `${k}=${v}`), 'ls', '/nonexistent'],
      { reject: false },
    )
    assert.match(probe.stderr, /Aucun fichier ou dossier de ce type/)

    await createBridge(dom0, 'xenbr1')
    const binding = { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4, 'management-address': DOM0_4.split('/')[0]! }
    const first = await callPlugin(dom0, root, 'apply', { ...binding, 'management-bridge': 'xenbr1' })
    assert.equal(first.status, 'Success', JSON.stringify(first))
    assert.deepEqual(await addressesOf(dom0, 'xenbr1'), [MIRROR])

    // Someone takes the mirror away; the next apply moves it to xenbr0 and must find the
    // old one already gone (only xenbr0 is observed, so the removal is attempted).
    await ip(dom0, 'addr', 'del', MIRROR, 'dev', 'xenbr1')
    const run = await runPluginXml(dom0, xapiEncodedCall('apply', { ...binding, 'management-bridge': 'xenbr0' }), {
      root,
      extraEnv: locale,
    })
    const second = await parseReply(run.stdout)
    assert.equal(second.status, 'Success', JSON.stringify(second))
    assert.deepEqual(await addressesOf(dom0, 'xenbr1'), [])
    assert.ok((await addressesOf(dom0, 'xenbr0')).includes(MIRROR))
  }))

test('a mirror whose bridge went away is already gone too: the next apply succeeds in French', () =>
  withTopology(async ({ dom0, root }) => {
    const locale = await frenchLocale(root)
    await createBridge(dom0, 'xenbr1')
    const binding = { bridge: 'xapi1', addresses: DOM0_4, gateway: FW4, 'management-address': DOM0_4.split('/')[0]! }
    assert.equal(
      (await callPlugin(dom0, root, 'apply', { ...binding, 'management-bridge': 'xenbr1' })).status,
      'Success',
    )
    // The old mirror went with its bridge: its removal finds nothing to remove.
    await ip(dom0, 'link', 'del', 'xenbr1')
    const run = await runPluginXml(dom0, xapiEncodedCall('apply', { ...binding, 'management-bridge': 'xenbr0' }), {
      root,
      extraEnv: locale,
    })
    const reply = await parseReply(run.stdout)
    assert.equal(reply.status, 'Success', JSON.stringify(reply))
    assert.ok((await addressesOf(dom0, 'xenbr0')).includes(MIRROR))
  }))
