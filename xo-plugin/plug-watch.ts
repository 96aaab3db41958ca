// xo-server's xen-api client pauses before each event.from (its `debounce`, 200 ms unless
// xo-server's xapiOptions say otherwise), so a change made during the pause reaches the
// object cache up to that much later. A bound firewall's VIF plug is the one change whose
// wait an admin pays (dom0 has no network until it is bound): this watch asks xapi for VM
// and VIF events alone, on the same connection, with no pause, and hands each answer over
// at once (to FreshRecords, through the plugin).

import type { XapiConnection } from './xapi-types.ts'

export interface XapiEvent {
  class: string
  operation: 'add' | 'mod' | 'del'
  ref: string
  snapshot?: Readonly<Record<string, unknown>>
}

// xapi answers an event.from at the latest after this; a float, as XML-RPC wants a double.
// Well under a minute: xo-server's xapiOptions may give every call a timeout (none, 1 h, by
// default), and a poll cut by it would leave the plugin on the paced cache alone.
const EVENT_TIMEOUT_SECONDS = 30.1
const RETRY_MS = 5_000

export class PlugWatch {
  private stopped = false

  constructor(
    private readonly xapi: XapiConnection,
    private readonly onEvents: (events: XapiEvent[]) => void,
    /**
     * The stream broke: what it told may be outrun by the cache from now on. `failures`: in
     * a row (a disconnection or a toolstack restart costs one or two; a poll that can never
     * work, more).
     */
    private readonly onLost: (error: unknown, failures: number) => void,
    private readonly retryMs = RETRY_MS,
  ) {}

  start(): void {
    // A read-only connection cannot poll events itself (xen-api refuses the call).
    if ((this.xapi as { readOnly?: boolean }).readOnly) return
    void this.run()
  }

  stop(): void {
    this.stopped = true
  }

  private async run(): Promise<void> {
    let token: string | undefined
    let failures = 0
    while (!this.stopped) {
      try {
        // The pool's own record, with the token of now: the cheapest start (tokens are global).
        token ??= ((await this.xapi.call('event.from', ['pool'], '', 0)) as { token: string }).token
        const answer = (await this.xapi.call('event.from', ['VM', 'VIF'], token, EVENT_TIMEOUT_SECONDS)) as {
          events: XapiEvent[]
          token: string
        }
        token = answer.token
        failures = 0
        if (!this.stopped) this.onEvents(answer.events)
      } catch (error) {
        token = undefined
        if (this.stopped) return
        this.onLost(error, ++failures)
        await new Promise(resolve => setTimeout(resolve, this.retryMs).unref())
      }
    }
  }
}
