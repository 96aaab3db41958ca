// What the host can learn from xapi alone, without Xen Orchestra: the pool document (written
// by the XO plugin or by `configure` on any host), and for a binding the bridge and the
// management bridge on this host. This is what lets a host recover while XO, often behind
// the same firewall, cannot reach it.

import { type Binding, type PoolConfig, applyArgsFor } from '../../shared/binding.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type ApplyRequest, parseApplyArgs } from '../../shared/plugin-args.ts'
import { type PoolDocument, readPoolDocument } from '../../shared/pool-document.ts'
import { type PoolHold, type PoolHolds, holdOn, readPoolHolds } from '../../shared/pool-holds.ts'
import type { LocalXapi } from './local-xapi.ts'
import { NULL_REF } from '../../shared/xapi-ids.ts'

export interface PoolBindings {
  config: PoolConfig
  bindings: Binding[]
  /** The pool-wide holds read with it (shared/pool-holds.ts); none when not read. */
  holds?: PoolHolds
}

/** The pool's ref and a snapshot of its other_config. */
export async function poolOtherConfig(xapi: LocalXapi): Promise<{ ref: string; otherConfig: Record<string, string> }> {
  const [ref] = await xapi.call<string[]>('pool.get_all')
  if (!ref) throw new BinderError(ErrorCode.XAPI_UNREACHABLE, 'xapi knows no pool', [])
  return { ref, otherConfig: await xapi.call<Record<string, string>>('pool.get_other_config', ref) }
}

/** The pool document as it is now: ok, missing or unreadable (read from one snapshot of the map). */
export async function readPoolDocumentHere(xapi: LocalXapi): Promise<PoolDocument> {
  return readPoolDocument((await poolOtherConfig(xapi)).otherConfig)
}

/**
 * The pool's bindings and pool-wide holds, or undefined when nobody configured the pool. An
 * unreadable document throws: callers then change nothing, and release nothing.
 */
export async function readPoolBindings(xapi: LocalXapi): Promise<PoolBindings | undefined> {
  const { otherConfig } = await poolOtherConfig(xapi)
  const document = readPoolDocument(otherConfig)
  if (document.state === 'unreadable') throw document.error
  return document.state === 'ok' ? { ...document, holds: readPoolHolds(otherConfig) } : undefined
}

/** The bridge of the host's management PIF, if it has one. */
export async function managementBridge(xapi: LocalXapi, hostRef: string): Promise<string | undefined> {
  const pifs = await xapi.call<string[]>('host.get_PIFs', hostRef)
  for (const pif of pifs) {
    if (await xapi.call<boolean>('PIF.get_management', pif)) {
      const network = await xapi.call<string>('PIF.get_network', pif)
      return network === NULL_REF ? undefined : xapi.call<string>('network.get_bridge', network)
    }
  }
  return undefined
}

export interface BoundVif {
  binding: Binding
  bridge: string
  vmRef: string
  /** The apply request for this host. */
  request: ApplyRequest
  /** A pool-wide hold on what it asks (shared/pool-holds.ts). */
  hold?: PoolHold
}

/** What a caller looking at many VIFs of one host already knows, so as not to ask again. */
export interface KnownHere {
  vmRef?: string
  management?: Promise<string | undefined>
}

/** Finds the binding of (VM, network) and builds its apply request for a host. */
export async function boundVif(
  xapi: LocalXapi,
  pool: PoolBindings,
  vmUuid: string,
  networkRef: string,
  hostRef: string,
  known: KnownHere = {},
): Promise<BoundVif | undefined> {
  const networkUuid = await xapi.call<string>('network.get_uuid', networkRef)
  const index = pool.config.bindings.findIndex(b => b.vm === vmUuid && b.network === networkUuid)
  if (index < 0) return undefined
  const binding = pool.bindings[index]!
  const bridge = await xapi.call<string>('network.get_bridge', networkRef)
  const mgmt = await (known.management ?? managementBridge(xapi, hostRef))
  const request = parseApplyArgs(applyArgsFor(binding, bridge, mgmt, pool.config.gatewayCheckSeconds))
  const vmRef = known.vmRef ?? (await xapi.call<string>('VM.get_by_uuid', vmUuid))
  const hold = pool.holds && holdOn(pool.holds, networkUuid, binding, pool.config.gatewayCheckSeconds)
  return { binding, bridge, vmRef, request, ...(hold ? { hold } : {}) }
}
