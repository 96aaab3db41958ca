// After XO writes or changes a pool's document, every host of that pool rewrites its
// vif-hotplug hook's local index (`refresh-index`): a host's hook otherwise trusts an index
// that still says "no VM bound here" for up to ten minutes, and a firewall restarted in that
// time on any host (not only the ones XO applies on) would leave its dom0 without an address.

import type { RefreshIndexResult } from '../shared/results.ts'
import { type CallQueue, QueueClosedError } from './call-queue.ts'
import { type HostPluginClient, describeError, errorCode, isUnknownFunction } from './host-plugin.ts'
import type { Logger } from './log.ts'
import { type HostRecord, PoolIndex, type XapiConnection } from './xapi-types.ts'

type Answer = { ok: true; result: RefreshIndexResult } | { ok: false; error: unknown }

/** Queued behind each host's earlier calls; never throws, never retried by the queue. */
export function refreshHookIndexes(
  queue: CallQueue,
  client: HostPluginClient,
  xapi: XapiConnection,
  log: Logger,
): Promise<void> {
  const hosts = new PoolIndex(xapi).all<HostRecord>('host')
  return Promise.all(
    hosts.map(async host => {
      const label = `${host.name_label}/refresh-index`
      let answer: Answer
      try {
        // Failures come back as values: a host that cannot refresh its index is no reason to
        // hold the calls queued behind this one with retries.
        answer = await queue.run(host.uuid, label, async (): Promise<Answer> => {
          try {
            return { ok: true, result: await client.refreshIndex(xapi, host.$ref) }
          } catch (error) {
            return { ok: false, error }
          }
        })
      } catch (error) {
        answer = { ok: false, error } // the queue closed (unload) or the host never answered
      }
      if (answer.ok) log.debug(`${label}: ${answer.result.bridges.length} bridge(s) indexed`)
      else logFailure(label, answer.error, log)
    }),
  ).then(() => undefined)
}

function logFailure(label: string, error: unknown, log: Logger): void {
  const data = { error, reason: describeError(error) }
  // A host plugin older than `refresh-index` (or none, or one xapi could not run): its
  // index expires by itself, as before there was this call.
  const tooOld = isUnknownFunction(error) || errorCode(error)?.startsWith('XENAPI_') === true
  if (tooOld || error instanceof QueueClosedError) return log.debug(`${label}: not done`, data)
  log.warn(`${label} failed: that host's hook may go on with its previous index for up to 10 minutes`, data)
}
