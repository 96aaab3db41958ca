// The hook's local index: which VMs the pool's bindings name, which of their VIFs sit on a
// bound network (with that network's bridge) and the apply arguments for each bridge on
// this host. With it the vif-hotplug hook decides from one small file, without xapi:
// another VM's VIF costs nothing, a bound VIF is bound at once. It is written by whatever
// read the pool document from xapi anyway (the hook's worker, reconcile, boot, configure,
// refresh-index); missing, unreadable or older than MAX_AGE_MS, it is not used and the hook
// takes its full path. Every explicit call that changes what this host holds removes it: the
// caller (Xen Orchestra) may have changed the pool document without this host knowing.
// Writers and removers take their turns through engine/index-order.ts, so that an index
// read from an older document never replaces a newer one nor comes back after a removal;
// this module is what the hook's quick path loads, and stays free of all that.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PluginArgs } from '../../shared/plugin-args.ts'
import type { PoolHold } from '../../shared/pool-holds.ts'

/** The pool document may change without this host knowing: past this age, ask xapi again. */
export const MAX_AGE_MS = 10 * 60_000

export interface HookIndex {
  version: 1
  refreshedAt: string
  /** Bound VMs: each VIF known, with its bridge if its network is bound, else null. */
  vms: Record<string, { vifs: Record<string, string | null> }>
  /** The apply arguments of each bound bridge on this host. */
  requests: Record<string, PluginArgs>
  /** The bound bridges whose arguments are held back pool-wide (shared/pool-holds.ts). */
  holds?: Record<string, PoolHold>
}

export const hookIndexPath = (stateDir: string) => join(stateDir, 'hook-index.json')

function looksLikeIndex(value: unknown): value is HookIndex {
  const index = value as Partial<HookIndex> | null
  return (
    typeof index === 'object' &&
    index !== null &&
    index.version === 1 &&
    typeof index.refreshedAt === 'string' &&
    typeof index.vms === 'object' &&
    index.vms !== null &&
    typeof index.requests === 'object' &&
    index.requests !== null
  )
}

/** The index, if there is a usable one. */
export function readHookIndex(stateDir: string, now = Date.now()): HookIndex | undefined {
  try {
    const index: unknown = JSON.parse(readFileSync(hookIndexPath(stateDir), 'utf8'))
    if (!looksLikeIndex(index)) return undefined
    const age = now - Date.parse(index.refreshedAt)
    return age >= 0 && age <= MAX_AGE_MS ? index : undefined
  } catch {
    return undefined
  }
}

/** Replaces the index in one rename: the hook reads the old one or the new one. In its turn only (index-order.ts). */
export function writeHookIndex(stateDir: string, index: HookIndex): void {
  const path = hookIndexPath(stateDir)
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const partial = `${path}.${process.pid}.partial`
  writeFileSync(partial, JSON.stringify(index) + '\n', { mode: 0o644 })
  renameSync(partial, path)
}
