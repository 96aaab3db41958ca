// Throwaway network namespaces for tests and the simulator. Every name starts with
// NETNS_PREFIX followed by the owning process id, so a later run can sweep what a crashed
// run left behind without touching a run that is still alive.

import { readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'

export const NETNS_PREFIX = 'vib'

/** `vib<pid>-<tag>`: short, because interface and namespace names end up in logs. */
export function namespaceName(tag: string, pid = process.pid): string {
  return `${NETNS_PREFIX}${pid}-${tag}`
}

/** Runs `ip` (optionally inside a namespace) and returns stdout; throws with stderr on failure. */
export async function ip(ns: string | undefined, ...args: string[]): Promise<string> {
  const argv = ns ? ['netns', 'exec', ns, 'ip', ...args] : args
  const result = await execa('ip', argv, { reject: false })
  if (result.exitCode !== 0) throw new Error(`ip ${argv.join(' ')}: ${result.stderr.trim()}`)
  return result.stdout
}

/** `ip -j …` parsed. */
export async function ipJson<T = unknown>(ns: string | undefined, ...args: string[]): Promise<T> {
  const out = await ip(ns, '-j', ...args)
  return (out.trim() ? JSON.parse(out) : []) as T
}

export async function runIn(ns: string, command: string, args: string[], options: { timeoutMs?: number } = {}) {
  return execa('ip', ['netns', 'exec', ns, command, ...args], {
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs,
  })
}

export async function createNamespace(name: string): Promise<string> {
  await ip(undefined, 'netns', 'add', name)
  await ip(name, 'link', 'set', 'lo', 'up')
  return name
}

export async function deleteNamespace(name: string): Promise<void> {
  await execa('ip', ['netns', 'del', name], { reject: false })
}

export async function listNamespaces(): Promise<string[]> {
  const out = await execa('ip', ['-j', 'netns', 'list'], { reject: false })
  if (!out.stdout.trim()) return []
  return (JSON.parse(out.stdout) as { name: string }[]).map(n => n.name)
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Deletes namespaces of ours whose owning process is gone. */
export async function sweepDeadNamespaces(): Promise<string[]> {
  const swept: string[] = []
  const pattern = new RegExp(`^${NETNS_PREFIX}(\\d+)-`)
  for (const name of await listNamespaces()) {
    const match = pattern.exec(name)
    if (match && !isAlive(Number(match[1]))) {
      await deleteNamespace(name)
      swept.push(name)
    }
  }
  return swept
}

/** Moves one end of a new veth pair into each namespace and brings both up. */
export async function createVethPair(a: { ns: string; name: string }, b: { ns: string; name: string }): Promise<void> {
  await ip(a.ns, 'link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.ns)
  await ip(a.ns, 'link', 'set', a.name, 'up')
  await ip(b.ns, 'link', 'set', b.name, 'up')
}

export async function createBridge(ns: string, name: string): Promise<void> {
  await ip(ns, 'link', 'add', name, 'type', 'bridge')
  await ip(ns, 'link', 'set', name, 'up')
}

/**
 * Temporary directories of ours are named `vib-<kind>-<pid>-…` so they can be swept alike
 * (`ovs`: an Open vSwitch instance's run directory, whose daemons sweepDeadOvs() ends).
 */
export const TEMP_DIR_PATTERN = /^vib-(int|sim|e2e|unit|demo|bench|ovs)-(\d+)-/

/** Removes temporary directories of ours whose owning process is gone. */
export function sweepDeadTempDirs(): string[] {
  const swept: string[] = []
  for (const name of readdirSync(tmpdir())) {
    const match = TEMP_DIR_PATTERN.exec(name)
    if (match && !isAlive(Number(match[2]))) {
      rmSync(join(tmpdir(), name), { recursive: true, force: true })
      swept.push(name)
    }
  }
  return swept
}
