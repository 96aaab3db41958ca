// Which of install's parts are in place: what version and status report. Apart from
// install itself, so that a call asking only this loads none of install's code.

import { lstatSync, readlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { InstalledParts } from '../../shared/results.ts'
import { isExecutable } from '../runtime/executables.ts'
import { EXECUTABLE, HOOK, PLUGIN_LINK, UNIT, UNIT_WANTS, VENDOR_UNIT } from '../runtime/layout.ts'

export function exists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/** A link that resolves to our executable, however it is spelled. */
export function isOurLink(root: string, path: string): boolean {
  const full = join(root, path)
  try {
    return lstatSync(full).isSymbolicLink() && join(dirname(full), readlinkSync(full)) === join(root, EXECUTABLE)
  } catch {
    return false
  }
}

/** Which parts are in place under `root`: what status and version report. */
export function installedParts(root: string): InstalledParts {
  const unit = [VENDOR_UNIT, UNIT].find(path => exists(join(root, path)))
  const parts = {
    plugin: isExecutable(join(root, PLUGIN_LINK)),
    hook: isOurLink(root, HOOK),
    'boot unit': unit !== undefined,
    'boot unit enabled': exists(join(root, UNIT_WANTS)),
  }
  const { plugin: _, ...others } = parts
  const complete = Object.values(parts).every(Boolean)
  const half = !complete && Object.values(others).some(Boolean)
  return { parts, complete, half, ...(unit ? { unit: `/${unit}` } : {}) }
}
