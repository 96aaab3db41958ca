// npm run build: compiles the host plugin into one ELF for dom0 (glibc 2.17, no Node).
//
// The Bun binary comes from the npm package @oven/bun-linux-x64-baseline: compiling for the
// target of the running binary needs no download, and the baseline build needs no newer
// glibc than dom0's.

import { mkdir, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

export const hostPluginPath = join(repo, 'dist/xapi-plugin/vif-ip-binder')

function bunBinary(): string {
  return join(dirname(require.resolve('@oven/bun-linux-x64-baseline/package.json')), 'bin/bun')
}

async function buildHostPlugin(): Promise<void> {
  await rm(dirname(hostPluginPath), { recursive: true, force: true })
  await mkdir(dirname(hostPluginPath), { recursive: true })
  await execa(
    bunBinary(),
    ['build', '--compile', '--minify', '--target=bun-linux-x64-baseline', 'xapi-plugin/main.ts', '--outfile', hostPluginPath],
    { cwd: repo, stdout: 'ignore', stderr: 'inherit' },
  )
  console.log(`built ${hostPluginPath.slice(repo.length + 1)}`)
}

await buildHostPlugin()
