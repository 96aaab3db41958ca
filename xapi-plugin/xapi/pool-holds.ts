// The pool-wide holds in xapi (shared/pool-holds.ts): recorded by the host that reverted a
// change the pool's configuration asks for, lifted when the configuration no longer asks for
// it. Written like the pool document: xapi cannot replace a key of a map in one call, so a
// staging copy holds the new text while the main key is removed and added again.

import { applyArgsFor } from '../../shared/binding.ts'
import { XapiError } from '../../shared/errors.ts'
import { type PluginArgs, canonicalArgs } from '../../shared/plugin-args.ts'
import {
  POOL_HOLDS_KEY,
  POOL_HOLDS_STAGING_KEY,
  type PoolHold,
  type PoolHolds,
  bindingHoldText,
  encodePoolHolds,
  readPoolHolds,
  staleHolds,
  withHold,
  withoutHolds,
} from '../../shared/pool-holds.ts'
import { PLUGIN_NAME } from '../../shared/version.ts'
import type { HostIdentity, LocalXapi } from './local-xapi.ts'
import { type PoolBindings, managementBridge, poolOtherConfig, readPoolBindings } from './pool-bindings.ts'

const isDuplicateKey = (error: unknown) => error instanceof XapiError && error.code === 'MAP_DUPLICATE_KEY'

/**
 * Applies `change` to the pool's holds; writes only when it changes them. The new text goes
 * under the staging key first, so that a reader (or a writer that fails half-way) between the
 * main key's removal and its addition still finds every hold.
 */
export async function updatePoolHolds(xapi: LocalXapi, change: (holds: PoolHolds) => PoolHolds, retry = true) {
  const { ref, otherConfig } = await poolOtherConfig(xapi)
  const text = encodePoolHolds(change(readPoolHolds(otherConfig)))
  if (otherConfig[POOL_HOLDS_KEY] === text && otherConfig[POOL_HOLDS_STAGING_KEY] === undefined) return
  try {
    // Left by a writer that died: what it held is in `text` already (read above).
    if (otherConfig[POOL_HOLDS_STAGING_KEY] !== undefined)
      await xapi.call('pool.remove_from_other_config', ref, POOL_HOLDS_STAGING_KEY)
    await xapi.call('pool.add_to_other_config', ref, POOL_HOLDS_STAGING_KEY, text)
    await xapi.call('pool.remove_from_other_config', ref, POOL_HOLDS_KEY)
    await xapi.call('pool.add_to_other_config', ref, POOL_HOLDS_KEY, text)
    await xapi.call('pool.remove_from_other_config', ref, POOL_HOLDS_STAGING_KEY)
  } catch (error) {
    // Another host writes at the same moment: read again, once, and write after it.
    if (!retry || !isDuplicateKey(error)) throw error
    await updatePoolHolds(xapi, change, false)
  }
}

/** A change of a bridge on this host: the bridge, and its arguments. */
export interface BridgeChange {
  bridge: string
  args: PluginArgs
}

/** The networks whose binding asks, of its bridge on this host, one of these very changes. */
async function networksAsking(
  xapi: LocalXapi,
  host: HostIdentity,
  pool: PoolBindings,
  changes: BridgeChange[],
): Promise<[string, PoolHold][]> {
  const mgmt = await managementBridge(xapi, host.ref)
  const { gatewayCheckSeconds } = pool.config
  const at = new Date().toISOString()
  const found: [string, PoolHold][] = []
  for (const [i, { network }] of pool.config.bindings.entries()) {
    const binding = pool.bindings[i]!
    const bridge = await xapi.call<string>('network.get_bridge', await xapi.call('network.get_by_uuid', network))
    const asked = canonicalArgs(applyArgsFor(binding, bridge, mgmt, gatewayCheckSeconds))
    if (changes.some(c => c.bridge === bridge && canonicalArgs(c.args) === asked))
      found.push([network, { arguments: bindingHoldText(binding, gatewayCheckSeconds), host: host.uuid, at }])
  }
  return found
}

/**
 * Holds pool-wide the reverted changes that are what the pool's configuration asks of their
 * bridge on this host (another host's hook would apply just those). Returns the networks held.
 */
export async function recordPoolHolds(
  xapi: LocalXapi,
  host: HostIdentity,
  reverted: BridgeChange[],
): Promise<string[]> {
  const pool = await readPoolBindings(xapi)
  const held = pool && reverted.length ? await networksAsking(xapi, host, pool, reverted) : []
  if (held.length) await updatePoolHolds(xapi, holds => held.reduce((h, [n, hold]) => withHold(h, n, hold), holds))
  return held.map(([network]) => network)
}

/**
 * A confirmed change proved that its arguments leave this host reachable: the holds on those
 * very arguments are lifted. Returns the networks lifted.
 */
export async function liftConfirmedHolds(xapi: LocalXapi, host: HostIdentity, kept: BridgeChange[]): Promise<string[]> {
  const pool = await readPoolBindings(xapi)
  if (!pool?.holds || Object.keys(pool.holds.networks).length === 0 || kept.length === 0) return []
  const asked = await networksAsking(xapi, host, pool, kept)
  const lifted = asked.filter(([n, hold]) => pool.holds!.networks[n]?.arguments === hold.arguments).map(([n]) => n)
  if (lifted.length) await updatePoolHolds(xapi, holds => withoutHolds(holds, lifted))
  return lifted
}

/** Lifts the holds the pool's configuration no longer asks for. Returns the networks lifted. */
export async function liftStaleHolds(xapi: LocalXapi, pool: PoolBindings): Promise<string[]> {
  const bindings = pool.config.bindings.map((b, i) => ({ network: b.network, binding: pool.bindings[i]! }))
  const stale = pool.holds ? staleHolds(pool.holds, bindings, pool.config.gatewayCheckSeconds) : []
  if (stale.length) await updatePoolHolds(xapi, holds => withoutHolds(holds, stale))
  return stale
}

/**
 * Asks every other host of the pool to rewrite its hook index now, so that a hook there does
 * not bind, from an index written before the hold, what was just held. Returns the hosts that
 * could not be asked (their index expires within its maximum age).
 */
export async function refreshOtherHosts(xapi: LocalXapi, host: HostIdentity): Promise<string[]> {
  const failed: string[] = []
  for (const ref of await xapi.call<string[]>('host.get_all')) {
    if (ref === host.ref) continue
    try {
      await xapi.call('host.call_plugin', ref, PLUGIN_NAME, 'refresh-index', {})
    } catch (error) {
      failed.push(`${ref}: ${(error as Error).message}`)
    }
  }
  return failed
}
