// What the plugin owns on this host, per bridge: every address, route and sysctl it
// changed, with the value to give back. Written atomically (temporary file, fsync,
// rename) so a killed call leaves either the old or the new file, never half of one.

import { readFileSync, renameSync } from 'node:fs'
import { writeFileAtomically } from '../runtime/atomic-file.ts'
import { join } from 'node:path'
import type { Logger } from '../runtime/log.ts'
import type { PluginArgs } from '../../shared/plugin-args.ts'
import type { BridgeRecord, ConfirmResult, PendingConfirmation, RevertOutcome } from '../../shared/results.ts'

export interface State {
  version: 1
  bridges: Record<string, BridgeRecord>
  /** Changes applied with `confirm=` and not confirmed yet (engine/confirmation.ts). */
  confirmation?: PendingConfirmation
  lastRevert?: RevertOutcome
  /** The last confirmation: confirming its token again answers the same (a caller's retry). */
  lastConfirmed?: ConfirmResult
  /**
   * Per bridge, the arguments of a change that was reverted unconfirmed (canonicalArgs): the pool's
   * configuration may still hold them, and the hook, reconcile and boot must not re-apply
   * what cut the host off; `instead` is what they get, `also` earlier reverted arguments still
   * held (engine/held-back.ts says what lifts them).
   */
  heldBack?: Record<string, { reverted: string; instead: PluginArgs | null; also?: string[] }>
  /**
   * Reverted changes whose hold could not be recorded pool-wide when they were reverted (xapi
   * not up yet at boot, or out of reach): recorded by the next reconcile (engine/pool-holds.ts).
   */
  poolHoldsPending?: { bridge: string; args: PluginArgs }[]
}

export const emptyState = (): State => ({ version: 1, bridges: {} })

export function emptyRecord(bridge: string): BridgeRecord {
  return { bridge, desired: {}, addresses: [], mirrors: [], routes: [], defaultRoutes: [], sysctls: [], updatedAt: '' }
}

function looksLikeState(value: unknown): value is State {
  if (typeof value !== 'object' || value === null) return false
  const { version, bridges } = value as Partial<State>
  if (version !== 1 || typeof bridges !== 'object' || bridges === null) return false
  return Object.values(bridges).every(
    r =>
      Array.isArray(r?.addresses) &&
      Array.isArray(r.mirrors) &&
      Array.isArray(r.routes) &&
      Array.isArray(r.defaultRoutes) &&
      Array.isArray(r.sysctls),
  )
}

export class StateStore {
  readonly path: string

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dir, 'state.json')
  }

  /**
   * The recorded state. An unreadable file is moved aside (kept for a human to read) and
   * the call goes on from the kernel's observed state, as if nothing were recorded.
   */
  load(): State {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState()
      throw error
    }
    try {
      const parsed: unknown = JSON.parse(text)
      if (looksLikeState(parsed)) return parsed
    } catch {
      // fall through: set it aside below
    }
    const aside = `${this.path}.unreadable-${new Date().toISOString().replace(/[:.]/g, '')}`
    renameSync(this.path, aside)
    this.log.log('warning', 'state file unreadable, set aside; continuing from the kernel state', { aside })
    return emptyState()
  }

  save(state: State): void {
    writeFileAtomically(this.path, JSON.stringify(state, null, 2) + '\n')
  }
}
