// Finding programs the way a plugin can: xapi hands plugins PATH=/sbin:/usr/sbin:/bin:/usr/bin
// and nothing else, so a program is looked for there only.

import { accessSync, constants } from 'node:fs'

export const SYSTEM_PATH = ['/sbin', '/usr/sbin', '/bin', '/usr/bin']

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** In the directories xapi's PATH holds (the only PATH a plugin gets). */
export function onPath(name: string): boolean {
  return SYSTEM_PATH.some(dir => isExecutable(`${dir}/${name}`))
}
