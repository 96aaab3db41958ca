// npm run build: compiles the host plugin into one ELF for dom0 (glibc 2.17, no Node; see
// scripts/bun-compile.ts) and bundles the XO plugin.

import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { DOM0_COMPILE_FLAGS, bunBinary, compileForDom0 } from './bun-compile.ts'
import { recordBytecodeOrder } from './bytecode-order.ts'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')

export const hostPluginPath = join(repo, 'dist/xapi-plugin/vif-ip-binder')

// Outputs are written beside their final place and renamed over it: a test, the demo or
// the simulator running from dist/ meanwhile sees the old build or the new, never none.
/** `bun build <args> --outfile <partial>`, then the partial file renamed over `target`. */
async function bunBuildFile(target: string, args: string[]): Promise<void> {
  await mkdir(dirname(target), { recursive: true })
  const partial = `${target}.${process.pid}.partial`
  await execa(bunBinary(), ['build', ...args, '--outfile', partial], { cwd: repo, stdout: 'ignore', stderr: 'inherit' })
  await rename(partial, target)
  console.log(`built ${target.slice(repo.length + 1)}`)
}

// Compiled twice: the first executable runs `version` once to record the order in which a
// call uses its bytecode, and the second is laid out in that order (scripts/bytecode-order.ts).
async function buildHostPlugin(): Promise<void> {
  const entry = 'xapi-plugin/entry/main.ts'
  const dir = await mkdtemp(join(tmpdir(), 'vif-ip-binder-build-'))
  try {
    const first = join(dir, 'vif-ip-binder')
    await compileForDom0(repo, entry, first)
    const order = await recordBytecodeOrder(first, dir)
    await bunBuildFile(hostPluginPath, [...DOM0_COMPILE_FLAGS, `--bytecode-order=${order}`, entry])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export const xoPluginDir = join(repo, 'dist/xo-plugin')

// The XO plugin: one ESM file with every dependency inside (xo-server resolves the
// directory's package.json `main` and imports it; nothing is installed next to it), plus
// the package.json that makes the directory a `xo-server-vif-ip-binder` package.
async function buildXoPlugin(): Promise<void> {
  const partial = `${xoPluginDir}.${process.pid}.partial`
  await rm(partial, { recursive: true, force: true })
  await mkdir(partial, { recursive: true })
  await execa(
    bunBinary(),
    ['build', '--target=node', '--format=esm', 'xo-plugin/index.ts', '--outfile', join(partial, 'index.js')],
    {
      cwd: repo,
      stdout: 'ignore',
      stderr: 'inherit',
    },
  )
  const root = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string; license: string }
  const manifest = {
    name: 'xo-server-vif-ip-binder',
    version: root.version,
    description:
      'Xen Orchestra plugin: keeps dom0 reachable when every NIC belongs to a firewall VM, by binding dom0 addresses, gateway and routes on the firewall network whenever its VIF plugs.',
    keywords: ['xen-orchestra', 'xo-server', 'xo-server-plugin', 'xcp-ng', 'xenserver', 'firewall', 'dom0', 'vif'],
    license: root.license,
    type: 'module',
    main: 'index.js',
    engines: { node: '>=20' },
  }
  await writeFile(join(partial, 'package.json'), JSON.stringify(manifest, null, 2) + '\n')
  await copyFile(join(repo, 'xo-plugin/README-sections.md'), join(partial, 'README.md'))
  // A directory cannot be renamed over a full one: the old one goes an instant before.
  await rm(xoPluginDir, { recursive: true, force: true })
  await rename(partial, xoPluginDir)
  console.log(`built ${xoPluginDir.slice(repo.length + 1)}/`)
}

export const xoCliPath = join(repo, 'dist/xo-cli.js')

// vif-ip-binder-xo (configuration as code): one ESM file with xo-lib inside, run with node.
// ws's optional native helpers stay out: ws works without them.
async function buildXoCli(): Promise<void> {
  const external = ['--external=bufferutil', '--external=utf-8-validate']
  await bunBuildFile(xoCliPath, ['--target=node', '--format=esm', ...external, 'xo-plugin/cli/bin.ts'])
}

await buildHostPlugin()
await buildXoPlugin()
await buildXoCli()
