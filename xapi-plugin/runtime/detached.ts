// The host plugin's own background processes (the hook's worker, the revert of an
// unconfirmed change): started detached, so that they outlive the call that started them.

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { onPath } from './executables.ts'

/**
 * udev kills whatever its event handlers leave behind in its control group once the event
 * is handled, detached or not. Where systemd runs the host, the process gets a scope of its
 * own (systemd-run --scope runs the command itself, in a new cgroup); elsewhere (tests,
 * a dom0 without systemd) a detached process is all there is.
 */
export function workerCommand(
  root: string,
  executable: string,
  args: string[],
  systemdRun = onPath('systemd-run'),
  unit = 'vif-ip-binder-hotplug',
): [string, string[]] {
  if (systemdRun && existsSync(join(root, 'run/systemd/system'))) {
    return ['systemd-run', ['--scope', '--quiet', `--unit=${unit}-${process.pid}`, executable, ...args]]
  }
  return [executable, args]
}

/** Runs this executable again with `args`, detached, in a scope named after `unit`; its pid. */
export function startDetached(root: string, args: string[], unit?: string): number | undefined {
  const [command, argv] = workerCommand(root, process.execPath, args, undefined, unit)
  return spawnDetached(command, argv)
}

/** The process's command line, or undefined once it is gone. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
  } catch {
    return undefined
  }
}

const SCOPE_START_MS = 5000

/**
 * startDetached for a process that must run whatever happens (the revert of an unconfirmed
 * change): where systemd-run is used, waits until it has run the command in its scope. If it
 * cannot (a unit left with that name, no bus, a spawn error), the command runs detached
 * without a scope instead; `onFallback` says why. Undefined only if neither could start.
 */
export async function startDetachedSurely(
  root: string,
  args: string[],
  unit: string,
  onFallback: (why: string) => void,
): Promise<number | undefined> {
  const [command, argv] = workerCommand(root, process.execPath, args, undefined, unit)
  if (command !== 'systemd-run') return spawnDetached(command, argv)
  const scoped = await scopeStarted(spawn(command, argv, { detached: true, stdio: 'ignore', env: process.env }), args)
  if (typeof scoped === 'number') return scoped
  onFallback(scoped)
  return spawnDetached(process.execPath, args)
}

/** The pid once systemd-run has become the command, or why it did not. */
async function scopeStarted(child: ChildProcess, args: string[]): Promise<number | string> {
  let failed: string | undefined
  child.once('error', error => (failed = `systemd-run: ${error.message}`))
  child.once('exit', (code, signal) => (failed ??= `systemd-run ended (${signal ?? code}) before running the command`))
  child.unref()
  const limit = Date.now() + SCOPE_START_MS
  while (failed === undefined) {
    const running = child.pid === undefined ? undefined : commandLine(child.pid)
    const command = running?.[0]
    if (command && !command.endsWith('systemd-run') && running!.slice(-args.length).join('\0') === args.join('\0'))
      return child.pid!
    // Slow but alive: left to systemd rather than started twice.
    if (Date.now() > limit) return child.pid!
    await sleep(10)
  }
  return failed
}

function spawnDetached(command: string, argv: string[]): number | undefined {
  const child = spawn(command, argv, { detached: true, stdio: 'ignore', env: process.env })
  child.once('error', () => undefined)
  child.unref()
  return child.pid
}
