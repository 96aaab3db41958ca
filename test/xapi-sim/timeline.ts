// Simulator-side timestamps of what happened in the kernel and in the model (a VIF's veth
// appeared, a hook ran, a plugin call started and ended, a PBD plugged...). Benchmarks and
// tests compare these with what a client observed. `at` is epoch milliseconds with
// sub-millisecond precision (performance.timeOrigin + performance.now()).

import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'

export type TimelineKind =
  | 'vm.started'
  | 'vm.halted'
  | 'vm.migrated'
  | 'bridge.created'
  | 'bridge.destroyed'
  | 'vif.attached'
  | 'vif.detached'
  | 'hotplug.started'
  | 'hotplug.finished'
  | 'plugin.started'
  | 'plugin.finished'
  | 'pbd.plugged'
  | 'pbd.plug-failed'
  | 'pbd.unplugged'
  | 'host.enabled'
  | 'host.disabled'
  | 'server.restarted'
  | 'fault.applied'

export interface TimelineEntry {
  at: number
  kind: TimelineKind
  host?: string // host uuid
  vm?: string // VM uuid
  vif?: string // VIF uuid
  detail?: Record<string, unknown>
}

export function now(): number {
  return performance.timeOrigin + performance.now()
}

export class Timeline extends EventEmitter {
  private list: TimelineEntry[] = []

  record(kind: TimelineKind, fields: Omit<TimelineEntry, 'at' | 'kind'> = {}): TimelineEntry {
    const entry: TimelineEntry = { at: now(), kind, ...fields }
    this.list.push(entry)
    this.emit('entry', entry)
    return entry
  }

  entries(filter: Partial<Pick<TimelineEntry, 'kind' | 'host' | 'vm' | 'vif'>> = {}): TimelineEntry[] {
    return this.list.filter(e =>
      (Object.keys(filter) as (keyof typeof filter)[]).every(k => filter[k] === undefined || e[k] === filter[k]),
    )
  }

  /** Resolves with the first entry (already recorded after `since`, or future) that matches. */
  waitFor(
    predicate: (e: TimelineEntry) => boolean,
    options: { timeoutMs?: number; since?: number } = {},
  ): Promise<TimelineEntry> {
    const since = options.since ?? 0
    const existing = this.list.find(e => e.at >= since && predicate(e))
    if (existing) return Promise.resolve(existing)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('entry', listener)
        reject(new Error('timed out waiting for a timeline entry'))
      }, options.timeoutMs ?? 30_000)
      const listener = (e: TimelineEntry) => {
        if (e.at >= since && predicate(e)) {
          clearTimeout(timer)
          this.off('entry', listener)
          resolve(e)
        }
      }
      this.on('entry', listener)
    })
  }
}
