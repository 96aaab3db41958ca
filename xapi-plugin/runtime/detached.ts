// The host plugin's own background processes (the hook's worker, the revert of an
// unconfirmed change): started detached, so that they outlive the call that started them.

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
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
  const child = spawn(command, argv, { detached: true, stdio: 'ignore', env: process.env })
  child.unref()
  return child.pid
}
