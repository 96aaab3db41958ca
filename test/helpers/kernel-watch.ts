// `ip monitor` inside a namespace: kernel address and route changes, timestamped on the
// simulator's clock as they happen (not by polling), for the demo, tests and benchmarks.

import { createInterface } from 'node:readline'
import { execa } from 'execa'
import { now } from '../xapi-sim/timeline.ts'

/** `ip monitor` inside a host's namespace: kernel address and route changes as they happen. */
export class KernelWatch {
  private readonly process
  private readonly seen: { at: number; text: string }[] = []
  private readonly waiters: { pattern: RegExp; resolve: (at: number) => void }[] = []

  /** `objects`: what to watch, as `ip monitor` names them (link too, to see a VIF appear). */
  constructor(
    private readonly ns: string,
    objects = ['address', 'route'],
  ) {
    this.process = execa('ip', ['netns', 'exec', ns, 'ip', 'monitor', ...objects], {
      buffer: false,
      reject: false,
      stdin: 'ignore',
    })
    createInterface({ input: this.process.stdout! }).on('line', text => {
      const entry = { at: now(), text }
      this.seen.push(entry)
      for (const waiter of [...this.waiters]) {
        if (waiter.pattern.test(text)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1)
          waiter.resolve(entry.at)
        }
      }
    })
  }

  when(pattern: RegExp): Promise<number> {
    const past = this.seen.find(e => pattern.test(e.text))
    if (past) return Promise.resolve(past.at)
    return new Promise(resolve => this.waiters.push({ pattern, resolve }))
  }

  /**
   * Resolves once the monitor reports changes: a marker route (TEST-NET-2 benchmark range)
   * added and removed until the monitor shows it. Each round really changes the table, since
   * replacing a route with itself emits no event; a monitor that never reports is a failure.
   */
  async ready(): Promise<void> {
    const marker = ['blackhole', '198.18.255.254/32']
    for (let round = 0; round < 100; round++) {
      await execa('ip', ['-n', this.ns, 'route', 'add', ...marker], { reject: false })
      await execa('ip', ['-n', this.ns, 'route', 'del', ...marker], { reject: false })
      await new Promise(resolve => setTimeout(resolve, 100))
      if (this.lines(/^(Deleted )?blackhole 198\.18\.255\.254\b/).length) return
    }
    throw new Error(`ip monitor in ${this.ns} reported nothing in 100 rounds of adding a marker route`)
  }

  /** Every line seen so far that matches. */
  lines(pattern: RegExp): string[] {
    return this.seen.filter(e => pattern.test(e.text)).map(e => e.text)
  }

  stop(): void {
    this.process.kill()
  }
}
