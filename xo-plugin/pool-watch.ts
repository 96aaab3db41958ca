// Listens to one pool connection's object events and calls back, debounced: a VM start
// brings a burst of VM, VIF, network and host updates, and one recomputation after the
// burst sees the final state. A pool never quite quiet (guest metrics, other VMs' tasks)
// would postpone a plain debounce again and again: a burst waits at most maxWaitMs.

import type { ObjectsEvent, RecordBatch, XapiConnection } from './xapi-types.ts'

// Only these classes change what should be bound; tasks, messages and metrics do not. The
// pool counts: its document may be rewritten on a host (`configure`). Removals carry no
// record, so they always count.
const RELEVANT_TYPES = new Set(['VM', 'VIF', 'network', 'host', 'PIF', 'pool'])

export class PoolWatch {
  private timer: NodeJS.Timeout | undefined
  /** When the first event of the burst now waiting arrived. */
  private burstStarted: number | undefined
  private readonly listeners: [ObjectsEvent, (batch: RecordBatch) => void][]
  private stopped = false

  constructor(
    readonly xapi: XapiConnection,
    private readonly debounceMs: number,
    private readonly onChange: () => void,
    private readonly maxWaitMs = 5 * debounceMs,
  ) {
    const relevant = (batch: RecordBatch) => {
      if (Object.values(batch).some(record => record !== undefined && RELEVANT_TYPES.has(record.$type))) this.schedule()
    }
    this.listeners = [
      ['add', relevant],
      ['update', relevant],
      ['remove', () => this.schedule()],
    ]
    for (const [event, listener] of this.listeners) xapi.objects.on(event, listener)
  }

  get busy(): boolean {
    return this.timer !== undefined
  }

  schedule(): void {
    if (this.stopped) return
    if (this.timer) clearTimeout(this.timer)
    const now = Date.now()
    this.burstStarted ??= now
    const wait = Math.min(this.debounceMs, Math.max(0, this.burstStarted + this.maxWaitMs - now))
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.burstStarted = undefined
      if (!this.stopped) this.onChange()
    }, wait)
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    for (const [event, listener] of this.listeners) this.xapi.objects.removeListener(event, listener)
  }
}
