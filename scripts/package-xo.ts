// The XO plugin as Xen Orchestra's users install third-party plugins: an npm tarball of
// dist/xo-plugin, installed with `npm install --global` (it lands in
// /usr/local/lib/node_modules, one of xo-server's default plugin lookup paths).

import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { execa } from 'execa'

export function xoTarballName(version: string): string {
  return `xo-server-vif-ip-binder-${version}.tgz`
}

/** `npm pack` of the built plugin into `outdir`; builds first when dist/xo-plugin is missing. */
export async function packXoPlugin(repo: string, outdir: string): Promise<string> {
  // (scripts/build.ts builds when imported: its paths are not imported from there)
  const xoPluginDir = join(repo, 'dist/xo-plugin')
  if (!existsSync(join(xoPluginDir, 'package.json'))) {
    await execa(process.execPath, ['--import', 'tsx', join(repo, 'scripts/build.ts')], { cwd: repo, stdio: 'inherit' })
  }
  const { version } = JSON.parse(readFileSync(join(xoPluginDir, 'package.json'), 'utf8')) as { version: string }
  const dir = resolve(outdir)
  mkdirSync(dir, { recursive: true })
  await execa('npm', ['pack', xoPluginDir, '--pack-destination', dir, '--silent'], { cwd: repo, stdin: 'ignore' })
  const target = join(dir, xoTarballName(version))
  if (!existsSync(target)) throw new Error(`npm pack finished without ${target}`)
  return target
}
