// Host plugin calls: one at a time per host (the host plugin takes a lock anyway; queuing
// here keeps calls in the order events happened), a bounded number at once overall (a
// pool-wide event must not open a connection per host at once), each with a timeout (xapi
// has none for plugins) and retried with exponential backoff while the error is transient.

export interface CallQueueOptions {
  /** Calls in flight across all hosts. */
  concurrency: number
  /** Per attempt; a call still running after it is abandoned (and counts as transient). */
  timeoutMs: number
  /** Attempts after the first. */
  retries: number
  backoffMs: number
  maxBackoffMs: number
  isTransient: (error: unknown) => boolean
  /** Told about each failed attempt that will be retried. */
  onRetry?: (label: string, attempt: number, delayMs: number, error: unknown) => void
}

export const DEFAULT_CALL_QUEUE_OPTIONS: Omit<CallQueueOptions, 'isTransient'> = {
  concurrency: 8,
  timeoutMs: 60_000,
  retries: 5,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
}

export class CallTimeoutError extends Error {
  override name = 'CallTimeoutError'
  readonly code = 'VIF_IP_BINDER_XO_TIMEOUT'
}

export class QueueClosedError extends Error {
  override name = 'QueueClosedError'
  constructor() {
    super('the plugin was unloaded')
  }
}

export class CallQueue {
  private readonly tails = new Map<string, Promise<unknown>>()
  private readonly timers = new Set<{ timer: NodeJS.Timeout; reject: (error: Error) => void }>()
  private readonly waiting: (() => void)[] = []
  private running = 0
  private closed = false
  private pending = 0
  private idleWaiters: (() => void)[] = []

  constructor(private readonly options: CallQueueOptions) {}

  /**
   * Runs `fn` after every call queued earlier for `host`, retrying transient failures.
   * `timeoutMs` overrides the default per attempt (an apply waits for its gateway check).
   */
  run<T>(host: string, label: string, fn: () => Promise<T>, timeoutMs = this.options.timeoutMs): Promise<T> {
    if (this.closed) return Promise.reject(new QueueClosedError())
    this.pending++
    const previous = this.tails.get(host) ?? Promise.resolve()
    const result = previous.then(
      () => this.withRetries(label, fn, timeoutMs),
      () => this.withRetries(label, fn, timeoutMs),
    )
    const tail = result.then(
      () => undefined,
      () => undefined,
    )
    this.tails.set(host, tail)
    void tail.then(() => {
      if (this.tails.get(host) === tail) this.tails.delete(host)
      if (--this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
    })
    return result
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise(resolve => this.idleWaiters.push(resolve))
  }

  /** Rejects every waiting call and retry; calls already sent to a host finish on their own. */
  close(): void {
    this.closed = true
    for (const entry of this.timers) {
      clearTimeout(entry.timer)
      entry.reject(new QueueClosedError())
    }
    this.timers.clear()
    for (const wake of this.waiting.splice(0)) wake()
  }

  get isClosed(): boolean {
    return this.closed
  }

  private async withRetries<T>(label: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new QueueClosedError()
      try {
        return await this.withSlot(() => this.withTimeout(label, fn, timeoutMs))
      } catch (error) {
        if (this.closed || error instanceof QueueClosedError) throw error
        const transient = error instanceof CallTimeoutError || this.options.isTransient(error)
        if (!transient || attempt >= this.options.retries) throw error
        const delay = Math.min(this.options.backoffMs * 2 ** attempt, this.options.maxBackoffMs)
        this.options.onRetry?.(label, attempt + 1, delay, error)
        await this.sleep(delay)
      }
    }
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= this.options.concurrency) {
      await new Promise<void>(resolve => this.waiting.push(resolve))
      if (this.closed) throw new QueueClosedError()
    }
    this.running++
    try {
      return await fn()
    } finally {
      this.running--
      this.waiting.shift()?.()
    }
  }

  private withTimeout<T>(label: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry)
          reject(new CallTimeoutError(`${label}: no answer within ${timeoutMs} ms`))
        }, timeoutMs),
        reject,
      }
      this.timers.add(entry)
      fn().then(
        value => {
          clearTimeout(entry.timer)
          this.timers.delete(entry)
          resolve(value)
        },
        error => {
          clearTimeout(entry.timer)
          this.timers.delete(entry)
          reject(error)
        },
      )
    })
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry)
          resolve()
        }, ms),
        reject,
      }
      this.timers.add(entry)
    })
  }
}
