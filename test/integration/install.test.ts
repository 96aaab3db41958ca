// install / uninstall on a directory tree standing for a host's `/`.

import assert from 'node:assert/strict'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { execa } from 'execa'
import { HOST_PLUGIN, XAPI_PATH } from '../helpers/host-plugin.ts'
import { snapshotTree } from '../helpers/tree.ts'

const FOREIGN_HOOK = '#!/bin/sh\necho "foreign hook $*" >> /tmp/foreign-hook.log\n'

function hostTree(): string {
  const root = mkdtempSync(join(tmpdir(), `vib-int-${process.pid}-`))
  mkdirSync(join(root, 'etc/xapi.d/plugins'), { recursive: true })
  writeFileSync(join(root, 'etc/xapi.d/plugins/other-plugin'), 'keep me\n', { mode: 0o755 })
  writeFileSync(join(root, 'etc/xapi.d/vif-hotplug'), FOREIGN_HOOK)
  chmodSync(join(root, 'etc/xapi.d/vif-hotplug'), 0o750)
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true })
  mkdirSync(join(root, 'var/lib'), { recursive: true })
  return root
}

async function run(...args: string[]) {
  return execa(HOST_PLUGIN, args, { env: { PATH: XAPI_PATH }, extendEnv: false, stdin: 'ignore', reject: false })
}

test('install puts every file in place and uninstall leaves the tree byte-identical, foreign hook included', async () => {
  const root = hostTree()
  try {
    const before = snapshotTree(root)

    const installed = await run('install', '--root', root)
    assert.equal(installed.exitCode, 0, installed.stderr)
    assert.equal(JSON.parse(installed.stdout).chainedHook, true)

    const executable = join(root, 'opt/vif-ip-binder/bin/vif-ip-binder')
    assert.equal(statSync(executable).mode & 0o777, 0o755)
    assert.deepEqual(readFileSync(executable), readFileSync(HOST_PLUGIN), 'the installed file is this build')
    for (const link of ['etc/xapi.d/plugins/vif-ip-binder', 'etc/xapi.d/vif-hotplug', 'usr/sbin/vif-ip-binder']) {
      assert.ok(!readlinkSync(join(root, link)).startsWith('/'), `${link} is relative, so it works under any root`)
      assert.equal(realpathSync(join(root, link)), realpathSync(executable), link)
    }
    assert.equal(readFileSync(join(root, 'opt/vif-ip-binder/chained/vif-hotplug'), 'utf8'), FOREIGN_HOOK)
    assert.equal(statSync(join(root, 'opt/vif-ip-binder/chained/vif-hotplug')).mode & 0o777, 0o750)
    const unit = readFileSync(join(root, 'etc/systemd/system/vif-ip-binder.service'), 'utf8')
    assert.match(unit, /^After=xapi\.service/m)
    assert.match(unit, /^ExecStart=\/opt\/vif-ip-binder\/bin\/vif-ip-binder boot$/m)
    assert.equal(
      readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/vif-ip-binder.service')),
      '/etc/systemd/system/vif-ip-binder.service',
    )

    const again = await run('install', '--root', root)
    assert.equal(again.exitCode, 0, again.stderr)
    assert.equal(JSON.parse(again.stdout).upgraded, true)
    assert.equal(
      readFileSync(join(root, 'opt/vif-ip-binder/chained/vif-hotplug'), 'utf8'),
      FOREIGN_HOOK,
      'reinstall keeps the chained hook',
    )

    const removed = await run('uninstall', '--root', root)
    assert.equal(removed.exitCode, 0, removed.stderr)
    assert.equal(JSON.parse(removed.stdout).restoredHook, true)
    assert.deepEqual(snapshotTree(root), before)

    const twice = await run('uninstall', '--root', root)
    assert.equal(twice.exitCode, 0, 'uninstalling what is not installed is a no-op')
    assert.deepEqual(snapshotTree(root), before)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('install into an empty tree creates its directories, and uninstall removes them', async () => {
  const root = mkdtempSync(join(tmpdir(), `vib-int-${process.pid}-`))
  try {
    const before = snapshotTree(root)
    assert.equal((await run('install', '--root', root)).exitCode, 0)
    assert.ok(existsSync(join(root, 'etc/xapi.d/vif-hotplug')))
    assert.equal(JSON.parse((await run('uninstall', '--root', root)).stdout).restoredHook, false)
    assert.deepEqual(snapshotTree(root), before)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('install refuses to replace a file at the plugin path that is not its own', async () => {
  const root = hostTree()
  try {
    writeFileSync(join(root, 'etc/xapi.d/plugins/vif-ip-binder'), 'an older hand-copied plugin\n')
    const before = snapshotTree(root)
    const result = await run('install', '--root', root)
    assert.equal(result.exitCode, 1)
    assert.match(
      result.stderr,
      /^VIF_IP_BINDER_COMMAND_FAILED: .*etc\/xapi\.d\/plugins\/vif-ip-binder exists and is not vif-ip-binder's/,
    )
    assert.deepEqual(snapshotTree(root), before, 'nothing written')
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
