// event.from and event.inject with xapi's semantics: an empty token means "everything, as
// `add`"; one event per object per answer (repeated changes coalesce into its latest
// state); deletions carry no snapshot; a batch lists deletions, then modifications, then
// additions; the call blocks until something matching happens or the timeout expires.

import { XapiFailure } from './errors.ts'
import { CLASSES, type Change, classFromName, type ObjectStore, type XapiClass, type XapiRecord } from './store.ts'

export interface XapiEvent {
  id: number
  timestamp: string
  class: string
  operation: 'add' | 'mod' | 'del'
  ref: string
  snapshot?: XapiRecord
}

export interface EventFromResult {
  events: XapiEvent[]
  valid_ref_counts: Record<string, number>
  token: string
}

const WIDTH = 20

export function formatToken(generation: number): string {
  // xapi's tokens are "<generation>,<message generation>", zero padded so they sort.
  return `${String(generation).padStart(WIDTH, '0')},${'0'.repeat(WIDTH)}`
}

/** `undefined` for the empty token (from the beginning). */
export function parseToken(token: unknown): number | undefined {
  if (token === '') return undefined
  const match = typeof token === 'string' ? /^(\d+)(?:,(\d+))?$/.exec(token) : null
  if (match === null) throw new XapiFailure('EVENT_FROM_TOKEN_PARSE_FAILURE', [String(token)])
  return Number(match[1])
}

interface Subscription {
  all: boolean
  classes: Set<XapiClass>
  objects: Set<string> // "class/ref" filters, as xapi allows
}

function subscribe(classes: unknown): Subscription {
  const sub: Subscription = { all: false, classes: new Set(), objects: new Set() }
  if (!Array.isArray(classes)) throw new XapiFailure('FIELD_TYPE_ERROR', ['classes'])
  for (const item of classes) {
    const name = String(item)
    if (name === '*') {
      sub.all = true
      continue
    }
    const slash = name.indexOf('/')
    const cls = classFromName(slash < 0 ? name : name.slice(0, slash))
    if (cls === undefined) continue // xapi ignores classes it does not know
    if (slash < 0) sub.classes.add(cls)
    else sub.objects.add(`${cls}/${name.slice(slash + 1)}`)
  }
  return sub
}

function matches(sub: Subscription, change: { cls: XapiClass; ref: string }): boolean {
  return sub.all || sub.classes.has(change.cls) || sub.objects.has(`${change.cls}/${change.ref}`)
}

const ORDER = { del: 0, mod: 1, add: 2 } as const

export class EventService {
  private lostPending = 0
  private waiters = new Set<() => void>()

  constructor(private store: ObjectStore) {
    store.on('change', () => {
      for (const wake of [...this.waiters]) wake()
    })
  }

  /** The next `count` event.from calls answer EVENTS_LOST (fault injection). */
  forceEventsLost(count = 1): void {
    this.lostPending += count
    this.wakeAll()
  }

  /** Wakes every blocked event.from (they answer what they have, possibly nothing). */
  wakeAll(): void {
    for (const wake of [...this.waiters]) wake()
  }

  inject(cls: XapiClass, ref: string): string {
    this.store.update(cls, ref, () => {})
    return formatToken(this.store.generation)
  }

  async from(
    classes: unknown,
    token: unknown,
    timeoutSeconds: unknown,
    signal?: AbortSignal,
  ): Promise<EventFromResult> {
    const sub = subscribe(classes)
    const since = parseToken(token)
    const timeout = Number(timeoutSeconds)
    if (!Number.isFinite(timeout) || timeout < 0) throw new XapiFailure('FIELD_TYPE_ERROR', ['timeout'])
    if (since !== undefined && since < this.store.oldestAnswerableGeneration) throw new XapiFailure('EVENTS_LOST', [])

    const deadline = Date.now() + timeout * 1000
    for (;;) {
      // Checked on every wake-up too, so a forced loss reaches a client already waiting.
      if (this.lostPending > 0) {
        this.lostPending--
        throw new XapiFailure('EVENTS_LOST', [])
      }
      const result = this.collect(sub, since)
      if (result.events.length > 0 || Date.now() >= deadline || signal?.aborted) return result
      await this.waitForChange(sub, since ?? 0, deadline - Date.now(), signal)
    }
  }

  private collect(sub: Subscription, since: number | undefined): EventFromResult {
    const generation = this.store.generation
    const changes: Change[] = since === undefined ? this.allAsAdd() : this.store.changesSince(since)
    const events: XapiEvent[] = changes
      .filter(c => matches(sub, c))
      .sort((a, b) => ORDER[a.operation] - ORDER[b.operation] || a.generation - b.generation)
      .map(c => {
        const event: XapiEvent = {
          id: c.generation,
          timestamp: (Date.now() / 1000).toFixed(6),
          class: c.cls.toLowerCase(),
          operation: c.operation,
          ref: c.ref,
        }
        if (c.operation !== 'del') event.snapshot = this.store.snapshot(c.cls, c.ref)
        return event
      })
    const counts: Record<string, number> = {}
    for (const cls of sub.all ? this.allClasses() : sub.classes) counts[cls.toLowerCase()] = this.store.count(cls)
    return { events, valid_ref_counts: counts, token: formatToken(generation) }
  }

  private allAsAdd(): Change[] {
    const out: Change[] = []
    for (const cls of this.allClasses()) {
      for (const ref of this.store.refs(cls)) out.push({ cls, ref, operation: 'add', generation: 0 })
    }
    return out
  }

  private allClasses(): readonly XapiClass[] {
    return CLASSES
  }

  private waitForChange(sub: Subscription, since: number, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise(resolve => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(wake)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const wake = () => {
        if (signal?.aborted || this.lostPending > 0 || this.store.changesSince(since).some(c => matches(sub, c))) done()
      }
      const timer = setTimeout(done, Math.max(0, ms))
      this.waiters.add(wake)
      signal?.addEventListener('abort', done)
    })
  }
}
