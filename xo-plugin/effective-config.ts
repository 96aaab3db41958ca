// Which configuration XO converges a pool on. The pool document is the one configuration
// (the hosts act on it alone): a document written on a host with `configure` stays in
// effect until XO's settings are saved again, and XO with no settings of its own follows
// the pool's. XO never overwrites a host's document merely because it starts or reconnects.

import type { WrittenBy } from '../shared/binding.ts'
import { PAUSE_KEY, type Pause, parsePause } from '../shared/pause.ts'
import { canonicalText, poolDocumentOf, resolvedFromDocument } from './pool-config.ts'
import type { ResolvedBinding } from './resolve.ts'
import { type HostRecord, PoolIndex, type XapiConnection } from './xapi-types.ts'

export interface XoSettings {
  resolved: ResolvedBinding[]
  gatewayCheckSeconds: number
}

export interface EffectiveConfig extends XoSettings {
  source: 'pool' | 'xo'
  writtenBy?: WrittenBy
}

export function effectiveConfig(
  xapi: XapiConnection,
  poolId: string,
  xo: XoSettings | undefined,
): EffectiveConfig | undefined {
  const document = poolDocumentOf(xapi)
  if (document.state === 'ok' && (document.writtenBy?.by === 'host' || !xo)) {
    return {
      source: 'pool',
      resolved: resolvedFromDocument(poolId, document),
      gatewayCheckSeconds: document.config.gatewayCheckSeconds,
      writtenBy: document.writtenBy,
    }
  }
  return xo ? { source: 'xo', ...xo } : undefined
}

/**
 * Why an implicit write (start-up, reconnection) must leave the pool's document alone, or
 * undefined when XO may write `text` (canonical, or undefined for "no binding here").
 */
export function hostDocumentKept(xapi: XapiConnection, text: string | undefined): string | undefined {
  const document = poolDocumentOf(xapi)
  if (document.state !== 'ok' || document.writtenBy?.by !== 'host' || canonicalText(document) === text) return undefined
  const { host, at } = document.writtenBy
  const name = (host && new PoolIndex(xapi).uuid<HostRecord>(host, 'host')?.name_label) ?? host ?? '?'
  return `pool ${JSON.stringify(xapi.pool?.name_label)}: its configuration was written on host ${JSON.stringify(name)} at ${at} and differs from XO's settings; the pool's configuration is in effect (save XO's settings to replace it)`
}

/** A host paused with `vif-ip-binder pause`: XO changes nothing there. */
export function hostPause(xapi: XapiConnection | undefined, hostRef: string): Pause | undefined {
  const host = xapi && new PoolIndex(xapi).ref<HostRecord & { other_config?: Record<string, string> }>(hostRef, 'host')
  return parsePause(host?.other_config?.[PAUSE_KEY])
}
