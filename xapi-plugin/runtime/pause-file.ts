// The host's pause, kept in a local file: read first thing by the hook (one read, no xapi),
// and it works with xapi down. Present means paused, even when it cannot be read: when in
// doubt, the automation changes nothing.

import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { type Pause, encodePause, parsePause } from '../../shared/pause.ts'
import { writeFileAtomically } from './atomic-file.ts'

export function pauseFile(stateDir: string): string {
  return join(stateDir, 'paused.json')
}

/** The pause in force on this host, if any. */
export function readPause(stateDir: string): Pause | undefined {
  let text: string
  try {
    text = readFileSync(pauseFile(stateDir), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    return { reason: `the pause file ${pauseFile(stateDir)} is unreadable: ${(error as Error).message}`, at: '' }
  }
  return parsePause(text)
}

export function writePause(stateDir: string, pause: Pause): void {
  writeFileAtomically(pauseFile(stateDir), encodePause(pause) + '\n', 0o644)
}

export function clearPause(stateDir: string): void {
  rmSync(pauseFile(stateDir), { force: true })
}
