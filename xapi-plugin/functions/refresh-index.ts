// Writes the hook's local index (engine/hook-index.ts) from the pool document and xapi's
// records: every VIF of every bound VM, with the bridge of its network if that network is
// bound. Called by what reads the pool document from xapi anyway (the hook's worker,
// reconcile, so boot too, configure), and by Xen Orchestra through `refresh-index` after it
// wrote the document. An index that could not be rewritten is removed, never left behind
// stale: the hook then asks xapi. Each writer takes its ticket (engine/index-order.ts)
// before it reads the document, so a slow one (a hook worker that waited for a gateway)
// cannot put back what a later refresh or an explicit call replaced or removed.

import { applyArgsFor } from '../../shared/binding.ts'
import type { RefreshIndexResult } from '../../shared/results.ts'
import type { HookIndex } from '../engine/hook-index.ts'
import {
  type IndexTicket,
  NO_TICKET,
  removeIndexInOrder,
  takeIndexTicket,
  writeIndexInOrder,
} from '../engine/index-order.ts'
import { type HostIdentity, type LocalXapi, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { type PoolBindings, managementBridge, readPoolBindings } from '../xapi/pool-bindings.ts'
import type { CallContext } from './context.ts'
import { holdOn } from '../../shared/pool-holds.ts'
import { liftStaleHolds } from '../xapi/pool-holds.ts'

/** The pool document, and the ticket taken before reading it that orders the index written from it. */
export interface PoolRead {
  pool: PoolBindings | undefined
  ticket: IndexTicket
}

/** Never fails for want of a ticket: the hook's worker, boot and configure have their own work to do. */
export async function readPoolForIndex(xapi: LocalXapi, ctx: CallContext): Promise<PoolRead> {
  const ticket = await takeIndexTicket(ctx.env).catch(() => NO_TICKET)
  return { pool: await readPoolBindings(xapi), ticket }
}

async function indexOf(xapi: LocalXapi, host: HostIdentity, pool: PoolBindings | undefined): Promise<HookIndex> {
  const index: HookIndex = { version: 1, refreshedAt: new Date().toISOString(), vms: {}, requests: {} }
  if (!pool) return index
  const mgmt = await managementBridge(xapi, host.ref)
  for (const [i, binding] of pool.bindings.entries()) {
    const { vm, network } = pool.config.bindings[i]!
    let vmRef: string
    try {
      vmRef = await xapi.call<string>('VM.get_by_uuid', vm)
    } catch {
      continue // a VM deleted since the document was written
    }
    const vifs = (index.vms[vm] ??= { vifs: {} }).vifs
    for (const vif of await xapi.call<string[]>('VM.get_VIFs', vmRef)) {
      const record = await xapi.call<{ uuid: string; network: string }>('VIF.get_record', vif)
      if ((await xapi.call<string>('network.get_uuid', record.network)) !== network) {
        vifs[record.uuid] ??= null
        continue
      }
      const bridge = await xapi.call<string>('network.get_bridge', record.network)
      vifs[record.uuid] = bridge
      index.requests[bridge] = applyArgsFor(binding, bridge, mgmt, pool.config.gatewayCheckSeconds)
      const hold = pool.holds && holdOn(pool.holds, network, binding, pool.config.gatewayCheckSeconds)
      if (hold) (index.holds ??= {})[bridge] = hold
    }
  }
  return index
}

/** The index from `read`, written unless something that began after it settled the file. */
async function writeIndex(
  xapi: LocalXapi,
  host: HostIdentity,
  read: PoolRead,
  ctx: CallContext,
): Promise<{ index: HookIndex; written: boolean }> {
  try {
    if (read.pool) await liftHolds(xapi, read.pool, ctx)
    const index = await indexOf(xapi, host, read.pool)
    return { index, written: await writeIndexInOrder(ctx.env, read.ticket, index) }
  } catch (error) {
    await removeIndexInOrder(ctx.env, read.ticket)
    throw error
  }
}

/** A configuration that no longer asks for held arguments lifts their hold; best effort. */
async function liftHolds(xapi: LocalXapi, pool: PoolBindings, ctx: CallContext): Promise<void> {
  try {
    const lifted = await liftStaleHolds(xapi, pool)
    if (lifted.length) ctx.log.log('info', "pool-wide holds lifted: the pool's configuration changed", { lifted })
  } catch (error) {
    ctx.log.log('warning', 'stale pool-wide holds could not be lifted', { error: (error as Error).message })
  }
}

/** Best effort, for callers that have their own work to finish. */
export async function refreshHookIndex(
  xapi: LocalXapi,
  host: HostIdentity,
  read: PoolRead,
  ctx: CallContext,
): Promise<void> {
  try {
    const { written } = await writeIndex(xapi, host, read, ctx)
    if (!written) ctx.log.log('info', 'the hook index was settled by a later refresh or call: left as it is')
  } catch (error) {
    ctx.log.log('warning', 'the hook index could not be refreshed', { error: (error as Error).message })
  }
}

/** `refresh-index`: the pool document read again, now; a failure is the caller's to see. */
export async function refreshIndex(ctx: CallContext): Promise<RefreshIndexResult> {
  const ticket = await takeIndexTicket(ctx.env)
  try {
    return await withLocalXapi(ctx.env.root, ctx.session, async xapi => {
      const host = await thisHost(ctx.env.root, xapi)
      const pool = await readPoolBindings(xapi)
      const { index, written } = await writeIndex(xapi, host, { pool, ticket }, ctx)
      const [vms, bridges] = [Object.keys(index.vms), Object.keys(index.requests)]
      const result = { host: host.uuid, configured: pool !== undefined, refreshedAt: index.refreshedAt, vms, bridges }
      return written ? result : { ...result, superseded: true }
    })
  } catch (error) {
    // xapi out of reach or the document unreadable: no index, the hook asks xapi each time.
    await removeIndexInOrder(ctx.env, ticket)
    throw error
  }
}
