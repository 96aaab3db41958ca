// Pool-wide holds: pool.other_config["vif-ip-binder-holds"]. A change of a binding reverted
// unconfirmed on one host is held back there (State.heldBack), but the firewall VM may start
// on, or migrate to, any host of the pool, whose hook would apply the pool's configuration
// (still holding the reverted arguments) with no window. So the reverting host also records,
// per network, the binding's arguments that were reverted; every host then treats them as
// held back too while the configuration still asks for them.
//
// The arguments are kept in a form that is the same on every host (no bridge, no management
// bridge: those are looked up per host), so a hold recorded on one host matches the request
// the same binding makes on any other.

import { type Binding, applyArgsFor } from './binding.ts'
import { type PluginArgs, canonicalArgs } from './plugin-args.ts'

export const POOL_HOLDS_KEY = 'vif-ip-binder-holds'
/** Holds the new text while the main key is replaced (removed, then added): never a moment with none. */
export const POOL_HOLDS_STAGING_KEY = `${POOL_HOLDS_KEY}:staging`
export const POOL_HOLDS_VERSION = 1

export interface PoolHold {
  /** The reverted binding's arguments, the same on every host (bindingHoldText). */
  arguments: string
  /** The UUID of the host that reverted them. */
  host: string
  /** When it reverted them. */
  at: string
}

export interface PoolHolds {
  version: 1
  /** Per network UUID. */
  networks: Record<string, PoolHold>
}

export const noPoolHolds = (): PoolHolds => ({ version: POOL_HOLDS_VERSION, networks: {} })

const isHold = (value: unknown): value is PoolHold => {
  const hold = value as Partial<PoolHold> | null
  return (
    typeof hold === 'object' &&
    hold !== null &&
    typeof hold.arguments === 'string' &&
    typeof hold.host === 'string' &&
    typeof hold.at === 'string'
  )
}

/**
 * The holds in a snapshot of pool.other_config (the staging copy while the main key is being
 * replaced). A missing key holds nothing; so does an
 * unreadable one (another version, bad JSON), entry by entry where entries are readable:
 * what this version cannot read it cannot match against a request either.
 */
export function readPoolHolds(otherConfig: Record<string, string>): PoolHolds {
  const text = otherConfig[POOL_HOLDS_KEY] ?? otherConfig[POOL_HOLDS_STAGING_KEY]
  if (text === undefined) return noPoolHolds()
  try {
    const value = JSON.parse(text) as Partial<PoolHolds> | null
    if (value?.version !== POOL_HOLDS_VERSION || typeof value.networks !== 'object' || value.networks === null)
      return noPoolHolds()
    const networks = Object.entries(value.networks).filter(([, hold]) => isHold(hold))
    return { version: POOL_HOLDS_VERSION, networks: Object.fromEntries(networks) }
  } catch {
    return noPoolHolds()
  }
}

export const encodePoolHolds = (holds: PoolHolds): string => JSON.stringify(holds)

/** These arguments without what differs from host to host. */
export function hostIndependentText(args: PluginArgs): string {
  const { bridge: _, 'management-bridge': __, ...rest } = args
  return canonicalArgs(rest)
}

// Placeholders: a binding's arguments on some host where the mirror has a bridge of its own.
const ANY_BRIDGE = 'bridge0'
const ANY_MANAGEMENT = 'management0'

/** What a hold records of a binding: its apply arguments as every host would get them. */
export const bindingHoldText = (binding: Binding, gatewayCheckSeconds: number): string =>
  hostIndependentText(applyArgsFor(binding, ANY_BRIDGE, ANY_MANAGEMENT, gatewayCheckSeconds))

/** The hold on a binding's network, when it holds what the binding asks for now. */
export function holdOn(
  holds: PoolHolds,
  network: string,
  binding: Binding,
  gatewayCheckSeconds: number,
): PoolHold | undefined {
  const hold = holds.networks[network]
  return hold?.arguments === bindingHoldText(binding, gatewayCheckSeconds) ? hold : undefined
}

/**
 * The holds that no binding of the configuration asks for any more: a configuration that no
 * longer holds the reverted arguments lifts their hold, so a later one asking for them again
 * is a new decision, not the old revert.
 */
export function staleHolds(
  holds: PoolHolds,
  bindings: { network: string; binding: Binding }[],
  gatewayCheckSeconds: number,
): string[] {
  return Object.keys(holds.networks).filter(
    network => !bindings.some(b => b.network === network && holdOn(holds, network, b.binding, gatewayCheckSeconds)),
  )
}

export const withHold = (holds: PoolHolds, network: string, hold: PoolHold): PoolHolds => ({
  ...holds,
  networks: { ...holds.networks, [network]: hold },
})

export function withoutHolds(holds: PoolHolds, networks: string[]): PoolHolds {
  const left = Object.entries(holds.networks).filter(([network]) => !networks.includes(network))
  return { ...holds, networks: Object.fromEntries(left) }
}

/** What the log, the alert and the apply's result say of a pool-wide hold. */
export const describePoolHold = (hold: PoolHold): string =>
  `a change to these arguments was reverted unconfirmed on host ${hold.host} at ${hold.at}: held back on every host of the pool until applied explicitly or the configuration changes`
