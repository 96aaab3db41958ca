// npm run package's XO tarball installs the way the README tells admins: `npm install
// --global` (here into a scratch prefix, offline: the plugin has no dependencies), landing
// as <prefix>/lib/node_modules/xo-server-vif-ip-binder, a folder xo-server discovers.

import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { packXoPlugin, xoTarballName } from '../../scripts/package-xo.ts'
import { REPO } from '../../scripts/package.ts'

const scratch = mkdtempSync(join(tmpdir(), 'vib-xo-pack-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

describe('the XO plugin tarball', () => {
  it('is npm pack of the built plugin, and npm install --global puts a loadable plugin where xo-server looks', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
    const tarball = await packXoPlugin(REPO, join(scratch, 'out'))
    assert.equal(tarball, join(scratch, 'out', xoTarballName(version)))
    const listing = (await execa('tar', ['-tzf', tarball])).stdout.split('\n').sort()
    assert.deepEqual(listing, ['package/README.md', 'package/index.js', 'package/package.json'])

    const prefix = join(scratch, 'prefix')
    await execa('npm', ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball], {
      stdin: 'ignore',
    })
    const installed = join(prefix, 'lib/node_modules/xo-server-vif-ip-binder')
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { version: string }
    assert.equal(manifest.version, version)
    const plugin = (await import(pathToFileURL(join(installed, 'index.js')).href)) as {
      default: { configurationSchema: { type: string } }
    }
    assert.equal(plugin.default.configurationSchema.type, 'object')
  })
})
