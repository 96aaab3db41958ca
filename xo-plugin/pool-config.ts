// Writes each pool's bindings into pool.other_config["vif-ip-binder"] so the hosts can act
// without XO (boot, vif-hotplug). xapi has no "set one map entry": remove the key, then add
// it (add on an existing key fails with MAP_DUPLICATE_KEY; removing a missing key is silent).

import {
  POOL_CONFIG_KEY,
  POOL_CONFIG_VERSION,
  type PoolConfig,
  encodePoolConfig,
  toPoolBinding,
} from '../shared/binding.ts'
import type { ResolvedBinding } from './resolve.ts'
import type { XapiConnection } from './xapi-types.ts'

/** The pool form for one pool, or undefined when it has no binding (the key is then removed). */
/** Settings that apply to every binding of a pool. */
export interface PoolSettings {
  gatewayCheckSeconds: number
  rescue: boolean
}

export function poolConfigText(
  poolId: string,
  bindings: ResolvedBinding[],
  { gatewayCheckSeconds, rescue }: PoolSettings,
): string | undefined {
  const mine = bindings.filter(b => b.poolId === poolId)
  if (mine.length === 0) return undefined
  const config: PoolConfig = {
    version: POOL_CONFIG_VERSION,
    gatewayCheckSeconds,
    rescue,
    bindings: mine.map(b => toPoolBinding(b.binding, b.vmUuid, b.networkUuid)),
  }
  return encodePoolConfig(config)
}

export type WriteOutcome = 'unchanged' | 'written' | 'removed'

export async function writePoolConfig(xapi: XapiConnection, text: string | undefined): Promise<WriteOutcome> {
  const pool = xapi.pool
  if (!pool) throw new Error('the pool is not connected')
  const current = pool.other_config?.[POOL_CONFIG_KEY]
  if (current === text) return 'unchanged'
  await xapi.call('pool.remove_from_other_config', pool.$ref, POOL_CONFIG_KEY)
  if (text === undefined) return 'removed'
  await xapi.call('pool.add_to_other_config', pool.$ref, POOL_CONFIG_KEY, text)
  return 'written'
}
