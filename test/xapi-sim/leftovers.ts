// What a simulator leaves behind if it is not stopped: temp dirs named vib-sim-<pid>-*
// and namespaces named vib<pid>-sim<N>-*. listSimLeftovers() is for the suite's final
// leftovers check; sweepSimLeftovers() (run by every start) removes those of dead runs.

import { readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deleteNamespace, listNamespaces, NETNS_PREFIX } from '../helpers/netns.ts'
import { namespacePids } from './netns-tools.ts'
import { TEMP_PREFIX } from './topology.ts'

const NS_PATTERN = new RegExp(`^${NETNS_PREFIX}(\\d+)-sim\\d+-`)
const DIR_PATTERN = new RegExp(`^${TEMP_PREFIX}(\\d+)-`)

export interface SimLeftovers {
  tempDirs: string[]
  namespaces: string[]
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Every simulator temp dir and namespace present now (of live or dead runs). */
export async function listSimLeftovers(options: { onlyDead?: boolean } = {}): Promise<SimLeftovers> {
  const keep = (pid: string | undefined) => !options.onlyDead || !alive(Number(pid))
  const dirs = await readdir(tmpdir()).catch(() => [] as string[])
  const tempDirs = dirs.filter(d => DIR_PATTERN.test(d) && keep(DIR_PATTERN.exec(d)?.[1])).map(d => join(tmpdir(), d))
  const namespaces = (await listNamespaces()).filter(n => NS_PATTERN.test(n) && keep(NS_PATTERN.exec(n)?.[1]))
  return { tempDirs, namespaces }
}

/** Removes what crashed runs left: their namespaces (after killing processes inside) and temp dirs. */
export async function sweepSimLeftovers(): Promise<SimLeftovers> {
  const found = await listSimLeftovers({ onlyDead: true })
  for (const ns of found.namespaces) {
    for (const pid of await namespacePids(ns)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
    await deleteNamespace(ns)
  }
  for (const dir of found.tempDirs) await rm(dir, { recursive: true, force: true })
  return found
}
