// Writes each pool's bindings into the pool document (pool.other_config["vif-ip-binder"])
// so the hosts can act without XO (boot, vif-hotplug), with the same no-window protocol as
// a host's `configure` (shared/pool-document.ts), stamped as written by XO.

import {
  POOL_CONFIG_KEY,
  POOL_CONFIG_VERSION,
  type PoolConfig,
  bindingLabel,
  decodePoolConfig,
  encodePoolConfig,
  toPoolBinding,
} from '../shared/binding.ts'
import {
  type PoolDocument,
  encodePoolDocument,
  readPoolDocument,
  writePoolDocument,
  writerId,
} from '../shared/pool-document.ts'
import type { ResolvedBinding } from './resolve.ts'
import type { XapiConnection } from './xapi-types.ts'

/** Settings that apply to every binding of a pool. */
export interface PoolSettings {
  gatewayCheckSeconds: number
  rescue: boolean
  /** Hosts start the auto_poweron VMs their late SRs held back (on unless turned off). */
  autoStart?: boolean
}

/** The canonical pool form for one pool (no `writtenBy`), or undefined when it has no binding (the key is then removed). */
export function poolConfigText(
  poolId: string,
  bindings: ResolvedBinding[],
  { gatewayCheckSeconds, rescue, autoStart }: PoolSettings,
): string | undefined {
  const mine = bindings.filter(b => b.poolId === poolId)
  if (mine.length === 0) return undefined
  const config: PoolConfig = {
    version: POOL_CONFIG_VERSION,
    gatewayCheckSeconds,
    rescue,
    ...(autoStart === false ? { autoStart: false } : {}),
    bindings: mine.map(b => toPoolBinding(b.binding, b.vmUuid, b.networkUuid)),
  }
  return encodePoolConfig(config)
}

/** The document's configuration without who wrote it: what XO compares with its own. */
export function canonicalText(document: PoolDocument): string | undefined {
  if (document.state !== 'ok') return undefined
  const { writtenBy: _, ...config } = document.config
  return encodePoolConfig(config)
}

/** The pool's document as XO's cache holds it now. */
export function poolDocumentOf(xapi: XapiConnection): PoolDocument {
  return readPoolDocument({ ...(xapi.pool?.other_config ?? {}) })
}

/** A pool document's bindings in the form XO converges on. */
export function resolvedFromDocument(poolId: string, document: PoolDocument & { state: 'ok' }): ResolvedBinding[] {
  return document.bindings.map((binding, index) => {
    const { vm, network } = document.config.bindings[index]!
    return { index, label: bindingLabel(index, { vm, network }), binding, poolId, vmUuid: vm, networkUuid: network }
  })
}

export type WriteOutcome = 'unchanged' | 'written' | 'superseded' | 'removed'

export async function writePoolConfig(xapi: XapiConnection, text: string | undefined): Promise<WriteOutcome> {
  const pool = xapi.pool
  if (!pool) throw new Error('the pool is not connected')
  const otherConfig = { ...(pool.other_config ?? {}) }
  const current = readPoolDocument(otherConfig)
  if (text === undefined) {
    if (current.state === 'missing') return 'unchanged'
    await xapi.call('pool.remove_from_other_config', pool.$ref, POOL_CONFIG_KEY)
    return 'removed'
  }
  if (canonicalText(current) === text) return 'unchanged'
  const stamped = encodePoolDocument(decodePoolConfig(text).config, { by: 'xo', at: new Date().toISOString() })
  const call = (method: string, ...params: unknown[]) => xapi.call(method, ...params)
  return writePoolDocument(call, pool.$ref, stamped, otherConfig, writerId('xo'))
}
