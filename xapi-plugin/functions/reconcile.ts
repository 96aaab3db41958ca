// reconcile: make this host match the pool's bindings, from xapi alone. For every bound VM
// running here with its VIF on the bound network attached: apply, then plug its SRs.
// Bridges recorded here that no bound VM needs any more are released. A pool with no
// document (nobody configured it), a document that cannot be read, or a paused host is
// left alone: hand-made bindings are not ours to undo, and doubt never releases.

import { BinderError } from '../../shared/errors.ts'
import { applyUntilGatewayAnswers, poolOptions, vifAttachedHere } from './apply-until.ts'
import type { ApplyOptions } from './apply.ts'
import type { CallContext } from './context.ts'
import { type LocalXapi, inventoryHostUuid, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { describePause } from '../../shared/pause.ts'
import { readPause } from '../runtime/pause-file.ts'
import { plugSrsFor } from './plug-srs.ts'
import { type BoundVif, type PoolBindings, boundVif, managementBridge } from '../xapi/pool-bindings.ts'
import { release } from './release.ts'
import { releaseHeldBack } from '../engine/held-back.ts'
import { recordPendingHolds } from '../engine/pool-holds.ts'
import type { ApplyResult, ReconcileResult, ReleaseResult } from '../../shared/results.ts'
import { readPoolForIndex, refreshHookIndex } from './refresh-index.ts'

interface VifRecord {
  network: string
  currently_attached: boolean
}

/** The bound VMs resident on this host (uuid → ref), asked of this host's VMs only. */
async function boundVmsHere(xapi: LocalXapi, hostRef: string, pool: PoolBindings): Promise<Map<string, string>> {
  const bound = new Set(pool.bindings.map(b => b.vm))
  const resident = await xapi.call<string[]>('host.get_resident_VMs', hostRef)
  const uuids = await Promise.all(resident.map(ref => xapi.call<string>('VM.get_uuid', ref)))
  const here = new Map<string, string>()
  uuids.forEach((uuid, i) => bound.has(uuid) && here.set(uuid, resident[i]!))
  return here
}

/**
 * The bound VIFs attached on this host right now, in the order of the pool's bindings.
 * Found from the VMs resident here, not by asking xapi about every binding of the pool: a
 * host's cost stays that of its own few VMs whatever the size of the pool.
 */
export async function boundVifsHere(
  xapi: LocalXapi,
  hostRef: string,
  pool: PoolBindings,
): Promise<(BoundVif & { vifRef: string })[]> {
  const here = await boundVmsHere(xapi, hostRef, pool)
  const found: (BoundVif & { vifRef: string })[] = []
  let management: Promise<string | undefined> | undefined
  for (const binding of pool.bindings) {
    const vmRef = here.get(binding.vm)
    if (!vmRef) continue
    const [powerState, vifs] = await Promise.all([
      xapi.call<string>('VM.get_power_state', vmRef),
      xapi.call<string[]>('VM.get_VIFs', vmRef),
    ])
    if (powerState !== 'Running') continue
    for (const vif of vifs) {
      const record = await xapi.call<VifRecord>('VIF.get_record', vif)
      if (!record.currently_attached) continue
      management ??= managementBridge(xapi, hostRef)
      const bound = await boundVif(xapi, pool, binding.vm, record.network, hostRef, { vmRef, management })
      if (bound && bound.binding === binding) found.push({ ...bound, vifRef: vif })
    }
  }
  return found
}

function describe(error: unknown): string[] {
  return error instanceof BinderError ? error.errorDescription : [String((error as Error)?.message ?? error)]
}

const RELEASE_HELD_BACK =
  'its release was reverted unconfirmed: kept as before until applied or released explicitly, or bound again'

/**
 * The bridges recorded here that no bound VM needs any more go, in the window of
 * configure confirm=N when given one (reverted unless confirmed, like its applies).
 */
async function releaseUnwanted(
  wanted: Set<string>,
  ctx: CallContext,
  confirmSeconds: number,
): Promise<ReconcileResult['released']> {
  const released: ReconcileResult['released'] = []
  const state = ctx.store.load()
  for (const bridge of Object.keys(state.bridges)) {
    if (wanted.has(bridge)) continue
    if (releaseHeldBack(state, bridge)) {
      ctx.log.log('warning', `reconcile: ${bridge}: ${RELEASE_HELD_BACK}`, { bridge })
      released.push({ bridge, changes: 0, heldBack: RELEASE_HELD_BACK })
      continue
    }
    try {
      const result: ReleaseResult = await release({ bridge, dryRun: false }, ctx, { confirmSeconds })
      released.push({ bridge, changes: result.changes.length })
    } catch (error) {
      released.push({ bridge, changes: 0, error: describe(error) })
    }
  }
  return released
}

/** How configure confirm=N reconciles: its applies explicit and windowed, no waiting for a silent gateway. */
export interface ReconcileOptions {
  apply?: ApplyOptions
  gatewayBudgetSeconds?: number
}

export async function reconcile(ctx: CallContext, options: ReconcileOptions = {}): Promise<ReconcileResult> {
  const paused = readPause(ctx.env.stateDir)
  if (paused) {
    ctx.log.log('info', `reconcile: ${describePause(paused)}: nothing done`)
    return { host: inventoryHostUuid(ctx.env.root), configured: false, paused, applied: [], released: [], srs: [] }
  }
  await recordPendingHolds(ctx)
  return withLocalXapi(ctx.env.root, ctx.session, async xapi => {
    const host = await thisHost(ctx.env.root, xapi)
    const result: ReconcileResult = { host: host.uuid, configured: false, applied: [], released: [], srs: [] }
    const read = await readPoolForIndex(xapi, ctx)
    await refreshHookIndex(xapi, host, read, ctx)
    const { pool } = read
    if (!pool) return result
    result.configured = true

    const wanted = await boundVifsHere(xapi, host.ref, pool)
    for (const bound of wanted) {
      try {
        const stillAttached = () => vifAttachedHere(xapi, bound.vifRef, bound.vmRef, host.ref)
        const applied: ApplyResult = await applyUntilGatewayAnswers(
          bound.request,
          ctx,
          stillAttached,
          options.gatewayBudgetSeconds,
          options.apply ?? poolOptions(bound),
        )
        result.applied.push({ vm: bound.binding.vm, bridge: bound.bridge, changes: applied.changes.length })
      } catch (error) {
        result.applied.push({ vm: bound.binding.vm, bridge: bound.bridge, changes: 0, error: describe(error) })
      }
    }

    // Applies may have waited minutes for their gateways: what is wanted now decides what
    // goes, not what was wanted then (a VM may have started, or come back, meanwhile).
    const wantedBridges = new Set((await boundVifsHere(xapi, host.ref, pool)).map(w => w.bridge))
    result.released = await releaseUnwanted(wantedBridges, ctx, options.apply?.confirmSeconds ?? 0)

    const srConfigs = wanted.flatMap(w => w.binding.srs)
    if (srConfigs.length) result.srs = await plugSrsFor(xapi, host, srConfigs, ctx)
    ctx.log.log('info', 'reconciled', { applied: result.applied.length, released: result.released.length })
    return result
  })
}
