// Runs a program without a shell and collects its output: the host plugin's one way to
// start a process. node:child_process only (Bun implements it natively): execa's module
// graph costs every call of the compiled executable more start-up than all of our code.

import { spawn } from 'node:child_process'

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
  /** Set when the command could not start or ran out of time. */
  error?: string
}

export interface RunOptions {
  input?: string
  timeoutMs?: number
}

export function run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise(resolve => {
    const child = spawn(file, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
    })
    let stdout = ''
    let stderr = ''
    let error: string | undefined
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.once('error', e => (error = e.message))
    child.once('close', (code, signal) =>
      resolve({
        exitCode: code ?? (signal ? 128 : 1),
        stdout,
        stderr,
        error: error ?? (signal ? `killed by ${signal}` : undefined),
      }),
    )
    if (options.input !== undefined) {
      // A program may stop reading before the end (ip -batch stops at its first failure):
      // what it did not read is not an error of ours, its exit status says what happened.
      child.stdin!.once('error', () => undefined)
      child.stdin!.end(options.input)
    }
  })
}
