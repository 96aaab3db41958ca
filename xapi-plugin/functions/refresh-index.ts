// Writes the hook's local index (engine/hook-index.ts) from the pool document and xapi's
// records: every VIF of every bound VM, with the bridge of its network if that network is
// bound. Called by what reads the pool document from xapi anyway (the hook's worker,
// reconcile, so boot too). Best effort: a failure leaves the previous index to expire.

import { applyArgsFor } from '../../shared/binding.ts'
import { type HookIndex, writeHookIndex } from '../engine/hook-index.ts'
import type { HostIdentity, LocalXapi } from '../xapi/local-xapi.ts'
import { type PoolBindings, managementBridge } from '../xapi/pool-bindings.ts'
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

export async function refreshHookIndex(
  xapi: LocalXapi,
  host: HostIdentity,
  pool: PoolBindings | undefined,
  ctx: CallContext,
): Promise<void> {
  try {
    writeHookIndex(ctx.env.stateDir, await indexOf(xapi, host, pool))
  } catch (error) {
    ctx.log.log('warning', 'the hook index could not be refreshed', { error: (error as Error).message })
  }
}
