// Kernel-side timestamps for the benchmarks: a KernelWatch (`ip monitor` in a namespace, on
// the simulator's clock) that is known to be listening before the measured action starts.

import { KernelWatch } from '../test/helpers/kernel-watch.ts'
import { ip } from '../test/helpers/netns.ts'
import { within } from './stats.ts'

export { KernelWatch }

// A loopback address nobody uses: adding and removing it is a harmless kernel event that
// proves `ip monitor` has subscribed (it starts asynchronously).
const MARKER = '127.0.0.77/32'

/** A KernelWatch on `ns` that has already seen one event of its own making. */
export async function readyWatch(ns: string, objects?: string[]): Promise<KernelWatch> {
  const watch = new KernelWatch(ns, objects)
  try {
    const seen = watch.when(/\blo\s+inet 127\.0\.0\.77\/32/)
    // `ip monitor` may not be subscribed yet when the first marker goes in: repeat until seen.
    for (let attempt = 0; ; attempt++) {
      await ip(ns, 'addr', 'add', MARKER, 'dev', 'lo')
      await ip(ns, 'addr', 'del', MARKER, 'dev', 'lo')
      const ok = await within(seen, 'ip monitor to start', 200).then(
        () => true,
        () => false,
      )
      if (ok) return watch
      if (attempt >= 50) throw new Error(`ip monitor in ${ns} never reported anything`)
    }
  } catch (error) {
    watch.stop()
    throw error
  }
}

export function escapeDots(address: string): string {
  return address.replace(/\./g, '\\.')
}
