// How the host plugin becomes one ELF for dom0 (glibc 2.17, no Node), shared by the build
// and the benchmark's floor executable, so that both are compiled exactly alike.
//
// The Bun binary comes from the npm package @oven/bun-linux-x64-baseline: compiling for the
// target of the running binary needs no download, and the baseline build needs no newer
// glibc than dom0's. --bytecode: the executable starts from precompiled bytecode instead of
// parsing its source on every call (half of its start-up CPU); it implies CommonJS, so no
// top-level await in the entry point.

import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { execa } from 'execa'

const require = createRequire(import.meta.url)

export function bunBinary(): string {
  return join(dirname(require.resolve('@oven/bun-linux-x64-baseline/package.json')), 'bin/bun')
}

export const DOM0_COMPILE_FLAGS = ['--compile', '--minify', '--bytecode', '--target=bun-linux-x64-baseline']

export async function compileForDom0(cwd: string, entry: string, outfile: string): Promise<void> {
  await execa(bunBinary(), ['build', ...DOM0_COMPILE_FLAGS, entry, '--outfile', outfile], {
    cwd,
    stdout: 'ignore',
    stderr: 'inherit',
  })
}
