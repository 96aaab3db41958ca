// The simulator's side of forkexecd.ts: one small helper process, started on first use and
// shared by every simulator of this process, starts the host plugins. It never keeps this
// process alive by itself: only while a call waits for its answer.

import { type ChildProcess, spawn } from 'node:child_process'
import type { Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export interface ForkRequest {
  id: number
  file: string
  args: string[]
  env: Record<string, string>
}

export interface ForkKill {
  id: number
  kill: true
}

export interface ForkResult {
  id: number
  exitCode?: number
  signal?: string
  stdout: string
  stderr: string
  error?: string
}

interface Helper {
  child: ChildProcess
  waiting: Map<number, (result: ForkResult) => void>
}

let helper: Helper | undefined
let nextId = 1

function startHelper(): Helper {
  const script = fileURLToPath(new URL('./forkexecd.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const started: Helper = { child, waiting: new Map() }
  createInterface({ input: child.stdout! }).on('line', line => {
    const result = JSON.parse(line) as ForkResult
    started.waiting.get(result.id)?.(result)
  })
  child.once('exit', code => {
    if (helper === started) helper = undefined
    const stderr = `forkexecd exited (${code ?? 'signal'}) before the process ended`
    for (const [id, resolve] of started.waiting) resolve({ id, signal: 'SIGKILL', stdout: '', stderr })
  })
  child.unref()
  for (const stream of [child.stdin, child.stdout]) (stream as Socket).unref()
  return started
}

/** Keeps this process alive while an answer is awaited, and only then. */
function hold({ child, waiting }: Helper): void {
  const stdout = child.stdout as Socket
  if (waiting.size) stdout.ref()
  else stdout.unref()
}

/** Runs `file` with exactly `env`, stdin /dev/null; `signal` stops it (SIGTERM, then SIGKILL). */
export function forkExec(
  file: string,
  args: string[],
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<ForkResult & { canceled: boolean }> {
  const current = (helper ??= startHelper())
  const id = nextId++
  const send = (message: ForkRequest | ForkKill) => current.child.stdin!.write(JSON.stringify(message) + '\n')
  return new Promise(resolve => {
    let canceled = false
    const onAbort = () => {
      canceled = true
      send({ id, kill: true })
    }
    current.waiting.set(id, result => {
      current.waiting.delete(id)
      hold(current)
      signal?.removeEventListener('abort', onAbort)
      resolve({ ...result, canceled })
    })
    hold(current)
    send({ id, file, args, env })
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}
