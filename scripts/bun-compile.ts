// How the host plugin becomes one ELF for dom0 (glibc 2.17, no Node), shared by the build
// and the benchmark's floor executable, so that both are compiled exactly alike.
//
// The Bun binary comes from the npm package @oven/bun-linux-x64-baseline: compiling for the
// target of the running binary needs no download, and the baseline build needs no newer
// glibc than dom0's. --bytecode: the executable starts from precompiled bytecode instead of
// parsing its source on every call (half of its start-up CPU); it implies CommonJS, so no
// top-level await in the entry point. --compile-jit-policy=1000: functions tier up to the
// JIT compilers a thousand times later than usual. A call lives some tens of milliseconds
// and computes little: compiling would cost more than it saves, and running JSC's JIT
// compilers maps 3 MiB more of Bun's own code into every call (peak memory of `version`
// 39.5 MiB instead of 42.5 MiB, the floor's 32.5 MiB instead of 33.1 MiB).

import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { execa } from 'execa'

const require = createRequire(import.meta.url)

export function bunBinary(): string {
  return join(dirname(require.resolve('@oven/bun-linux-x64-baseline/package.json')), 'bin/bun')
}

export const DOM0_COMPILE_FLAGS = [
  '--compile',
  '--minify',
  '--bytecode',
  '--compile-jit-policy=1000',
  '--target=bun-linux-x64-baseline',
]

export async function compileForDom0(cwd: string, entry: string, outfile: string): Promise<void> {
  await execa(bunBinary(), ['build', ...DOM0_COMPILE_FLAGS, entry, '--outfile', outfile], {
    cwd,
    stdout: 'ignore',
    stderr: 'inherit',
  })
}
