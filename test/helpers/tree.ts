// A directory tree as data: every path with its type, mode, content digest or link
// target. Two snapshots are equal exactly when the trees are byte-identical.

import { createHash } from 'node:crypto'
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

export type TreeEntry =
  | { type: 'dir'; mode: number }
  | { type: 'file'; mode: number; sha256: string }
  | { type: 'link'; target: string }

export function snapshotTree(root: string): Record<string, TreeEntry> {
  const entries: Record<string, TreeEntry> = {}
  const walk = (relativePath: string) => {
    const full = join(root, relativePath)
    const stat = lstatSync(full)
    if (stat.isSymbolicLink()) entries[relativePath] = { type: 'link', target: readlinkSync(full) }
    else if (stat.isDirectory()) {
      entries[relativePath] = { type: 'dir', mode: stat.mode & 0o7777 }
      for (const name of readdirSync(full).sort()) walk(join(relativePath, name))
    } else {
      const sha256 = createHash('sha256').update(readFileSync(full)).digest('hex')
      entries[relativePath] = { type: 'file', mode: stat.mode & 0o7777, sha256 }
    }
  }
  walk('.')
  return entries
}
