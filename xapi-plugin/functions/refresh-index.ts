// Writes the hook's local index (engine/hook-index.ts) from the pool document and xapi's
// records: every VIF of every bound VM, with the bridge of its network if that network is
// bound. Called by what reads the pool document from xapi anyway (the hook's worker,
// reconcile, so boot too, configure), and by Xen Orchestra through `refresh-index` after it
// wrote the document. An index that could not be rewritten is removed, never left behind
// stale: the hook then asks xapi.

import { applyArgsFor } from '../../shared/binding.ts'
import type { RefreshIndexResult } from '../../shared/results.ts'
import { type HookIndex, forgetHookIndex, writeHookIndex } from '../engine/hook-index.ts'
import { type HostIdentity, type LocalXapi, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { type PoolBindings, managementBridge, readPoolBindings } from '../xapi/pool-bindings.ts'
import type { CallContext } from './context.ts'

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
    }
  }
  return index
}

async function writeIndex(
  xapi: LocalXapi,
  host: HostIdentity,
  pool: PoolBindings | undefined,
  ctx: CallContext,
): Promise<HookIndex> {
  try {
    const index = await indexOf(xapi, host, pool)
    writeHookIndex(ctx.env.stateDir, index)
    return index
  } catch (error) {
    forgetHookIndex(ctx.env.stateDir)
    throw error
  }
}

/** Best effort, for callers that have their own work to finish. */
export async function refreshHookIndex(
  xapi: LocalXapi,
  host: HostIdentity,
  pool: PoolBindings | undefined,
  ctx: CallContext,
): Promise<void> {
  try {
    await writeIndex(xapi, host, pool, ctx)
  } catch (error) {
    ctx.log.log('warning', 'the hook index could not be refreshed', { error: (error as Error).message })
  }
}

/** `refresh-index`: the pool document read again, now; a failure is the caller's to see. */
export async function refreshIndex(ctx: CallContext): Promise<RefreshIndexResult> {
  try {
    return await withLocalXapi(ctx.env.root, ctx.session, async xapi => {
      const host = await thisHost(ctx.env.root, xapi)
      const pool = await readPoolBindings(xapi)
      const index = await writeIndex(xapi, host, pool, ctx)
      const [vms, bridges] = [Object.keys(index.vms), Object.keys(index.requests)]
      return { host: host.uuid, configured: pool !== undefined, refreshedAt: index.refreshedAt, vms, bridges }
    })
  } catch (error) {
    // xapi out of reach or the document unreadable: no index, the hook asks xapi each time.
    forgetHookIndex(ctx.env.stateDir)
    throw error
  }
}
