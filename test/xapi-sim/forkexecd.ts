// xapi's forkexecd in miniature: a small process that starts the host plugins for the
// simulator, as xapi has its forkexecd start them so that xapi itself never forks. Forking
// copies the forking process's page tables and blocks its event loop until the child has
// exec'd: from a simulator holding a whole pool (and, in the benchmark, Xen Orchestra
// beside it) that is tens of milliseconds per call, a cost no real pool pays.
//
// One JSON object a line on stdin: { id, file, args, env } starts a process, { id, kill }
// stops it (SIGTERM, then SIGKILL a second later). One a line on stdout per process when
// it ends: { id, exitCode?, signal?, stdout, stderr, error? }. Ends, and stops what it
// started, when its stdin closes (the simulator's process went away).

import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { ForkKill, ForkRequest, ForkResult } from './fork-client.ts'

const running = new Map<number, ChildProcess>()

function answer(result: ForkResult): void {
  process.stdout.write(JSON.stringify(result) + '\n')
}

function start({ id, file, args, env }: ForkRequest): void {
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  running.set(id, child)
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
  let failure: string | undefined
  child.once('error', error => (failure = error.message))
  child.once('close', (code, signal) => {
    running.delete(id)
    answer({
      id,
      ...(code === null ? {} : { exitCode: code }),
      ...(signal ? { signal } : {}),
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      ...(failure ? { error: failure } : {}),
    })
  })
}

function stop(id: number): void {
  const child = running.get(id)
  if (!child) return
  child.kill('SIGTERM')
  setTimeout(() => running.get(id) === child && child.kill('SIGKILL'), 1000).unref()
}

const lines = createInterface({ input: process.stdin })
lines.on('line', line => {
  const request = JSON.parse(line) as ForkRequest | ForkKill
  if ('kill' in request) stop(request.id)
  else start(request)
})
lines.on('close', () => {
  for (const child of running.values()) child.kill('SIGKILL')
  process.exit(0)
})
