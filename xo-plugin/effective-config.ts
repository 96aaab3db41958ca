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
  return `pool ${JSON.stringify(xapi.pool?.name_label)}: its configuration was ${writtenOn(xapi, document.writtenBy)} and differs from XO's settings; the pool's configuration is in effect (save XO's settings to replace it)`
}

/**
 * Why a pool that XO's settings bind nothing in keeps the document a host wrote, even when
 * the settings are saved: removing it would make XO and the hooks release every host of a
 * pool XO was never told about (one pool's settings saved, another pool's hosts cut off).
 */
export function hostDocumentUnbound(xapi: XapiConnection): string | undefined {
  const document = poolDocumentOf(xapi)
  if (document.state !== 'ok' || document.writtenBy?.by !== 'host') return undefined
  return `pool ${JSON.stringify(xapi.pool?.name_label)}: XO's settings bind nothing there, so its own configuration, ${writtenOn(xapi, document.writtenBy)}, stays in effect (\`vif-ip-binder configure\` on a host changes it)`
}

export function writtenOn(xapi: XapiConnection, { by, host, at }: WrittenBy): string {
  if (by === 'xo') return `written by Xen Orchestra at ${at}`
  const name = (host && new PoolIndex(xapi).uuid<HostRecord>(host, 'host')?.name_label) ?? host ?? '?'
  return `written on host ${JSON.stringify(name)} at ${at}`
}

/** A host paused with `vif-ip-binder pause`: XO changes nothing there. */
export function hostPause(xapi: XapiConnection | undefined, hostRef: string): Pause | undefined {
  const host = xapi && new PoolIndex(xapi).ref<HostRecord & { other_config?: Record<string, string> }>(hostRef, 'host')
  return parsePause(host?.other_config?.[PAUSE_KEY])
}
