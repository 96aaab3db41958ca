// Run by Bun (the bench's copy from @oven/bun-linux-x64-baseline), not by Node: Node cannot
// tell what a child process cost. Bun's spawnSync returns the kernel's accounting of a
// child (wait4: its CPU and that of the children it waited for). Peak memory comes from
// GNU time (/usr/bin/time -f %M): a child started by vfork/posix_spawn, as Bun's are,
// inherits its parent's memory high-water mark in ru_maxrss, GNU time forks from a process
// of 2 MiB.
//
//   bun bench/process-cost.ts RUNS '{"name": ["argv0", …], …}'
//   → {"name": [{"cpuMs", "wallMs", "maxRssMiB" (null without GNU time)}, …], …}
//
// The programs run alternated (A B C, then C B A, …), each with this process's environment,
// so slow drifts of a shared machine fall on each alike. Every run must exit 0.
//
// Each program's executable is first dropped from the page cache and run once unmeasured, so
// that every one is mapped as it is after a boot: read from disk. An executable just written
// (the floor and the host plugin are built minutes before) stays in the page cache as the
// writes left it, in large folios that a process maps whole: its peak memory then reads some
// 5 MiB higher, by an amount that depends on how the file was written, not on the program.

import { existsSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

interface Sample {
  cpuMs: number
  wallMs: number
  maxRssMiB: number | null
}

interface SpawnSyncResult {
  exitCode: number | null
  stderr: Uint8Array
  resourceUsage?: { cpuTime: { total: bigint } }
}

declare const Bun: {
  spawnSync(argv: string[], options: { stdin: 'ignore'; stdout: 'ignore'; stderr: 'pipe' }): SpawnSyncResult
}

const GNU_TIME = '/usr/bin/time'
const runs = Number(process.argv[2])
const programs = JSON.parse(process.argv[3] ?? '{}') as Record<string, string[]>
const names = Object.keys(programs)
const memoryFile = join(tmpdir(), `vib-bench-rss-${process.pid}`)
const timed = existsSync(GNU_TIME)

function once(name: string): Sample {
  const argv = timed ? [GNU_TIME, '-f', '%M', '-o', memoryFile, ...programs[name]!] : programs[name]!
  const started = performance.now()
  const result = Bun.spawnSync(argv, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' })
  const wallMs = performance.now() - started
  if (result.exitCode !== 0 || !result.resourceUsage) {
    process.stderr.write(`${name} exited ${result.exitCode}: ${new TextDecoder().decode(result.stderr)}\n`)
    process.exit(1)
  }
  const kib = timed ? Number(readFileSync(memoryFile, 'utf8').trim().split('\n').at(-1)) : Number.NaN
  return {
    cpuMs: Number(result.resourceUsage.cpuTime.total) / 1000,
    wallMs,
    maxRssMiB: Number.isFinite(kib) ? kib / 1024 : null,
  }
}

/** Writes the file's dirty pages back, then drops all of its pages from the page cache. */
function dropFromPageCache(file: string): void {
  for (const argv of [
    ['sync', '--data', file],
    ['dd', `if=${file}`, 'iflag=nocache', 'count=0', 'status=none'],
  ]) {
    const result = Bun.spawnSync(argv, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' })
    if (result.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${new TextDecoder().decode(result.stderr)}`)
  }
}

const samples: Record<string, Sample[]> = Object.fromEntries(names.map(name => [name, []]))
try {
  for (const executable of new Set(names.map(name => programs[name]![0]!))) dropFromPageCache(executable)
  for (const name of names) once(name)
  for (let i = 0; i < runs; i++)
    for (const name of i % 2 ? [...names].reverse() : names) samples[name]!.push(once(name))
} finally {
  rmSync(memoryFile, { force: true })
}
process.stdout.write(JSON.stringify(samples) + '\n')
