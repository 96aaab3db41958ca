// What each host of a pool should have bound right now, computed from the cached XAPI
// records alone: a binding is wanted on a host while its VM is resident there with its
// VIF on the bound network attached. Pure, so every event just recomputes it and the
// difference with what was done decides the calls (migration = gone here, wanted there).

import { type SrConfig, applyArgsFor } from '../shared/binding.ts'
import type { PluginArgs } from '../shared/plugin-args.ts'
import type { ResolvedBinding } from './resolve.ts'
import { type HostRecord, type NetworkRecord, type PoolIndex, type VifRecord, type VmRecord } from './xapi-types.ts'

/** A host as the converger addresses it: its pool, its ref, and names for the logs. */
export interface HostRef {
  poolId: string
  hostRef: string
  hostUuid: string
  hostName: string
}

export interface DesiredBinding extends HostRef {
  /** `<host uuid>/<bridge>`: one owner per bridge per host. */
  key: string
  bridge: string
  args: PluginArgs
  bindingIndex: number
  vmUuid: string
  /** Network SRs to re-attach on that host once applied (not part of `args`: plug-srs is a call of its own). */
  srs: SrConfig[]
  /** Set when the binding asks for a management mirror but the host has no management PIF. */
  noManagementPif?: boolean
}

export interface DesiredState {
  bindings: Map<string, DesiredBinding>
  /** Bindings that want a bridge another binding already holds on the same host. */
  conflicts: string[]
}

export function bindingKey(hostUuid: string, bridge: string): string {
  return `${hostUuid}/${bridge}`
}

// A paused VM keeps its VIFs plugged and its bridge up, so it keeps its binding.
const LIVE_POWER_STATES = new Set(['Running', 'Paused'])

export function desiredForPool(
  index: PoolIndex,
  bindings: ResolvedBinding[],
  gatewayCheckSeconds: number,
): DesiredState {
  const state: DesiredState = { bindings: new Map(), conflicts: [] }
  const poolId = index.xapi.pool?.uuid
  if (!poolId) return state
  for (const resolved of bindings) {
    if (resolved.poolId !== poolId) continue
    const vm = index.uuid<VmRecord>(resolved.vmUuid, 'VM')
    const network = index.uuid<NetworkRecord>(resolved.networkUuid, 'network')
    if (!vm || !network?.bridge || !LIVE_POWER_STATES.has(vm.power_state)) continue
    const host = index.ref<HostRecord>(vm.resident_on, 'host')
    if (!host) continue
    const attached = vm.VIFs.some(ref => {
      const vif = index.ref<VifRecord>(ref, 'VIF')
      return vif?.network === network.$ref && vif.currently_attached
    })
    if (!attached) continue

    const key = bindingKey(host.uuid, network.bridge)
    const holder = state.bindings.get(key)
    if (holder) {
      state.conflicts.push(
        `${resolved.label}: bridge ${network.bridge} on host ${JSON.stringify(host.name_label)} is already bound by binding ${holder.bindingIndex + 1}; this one is skipped`,
      )
      continue
    }
    const managementBridge = index.managementBridge(host)
    const desired: DesiredBinding = {
      key,
      poolId,
      hostRef: host.$ref,
      hostUuid: host.uuid,
      hostName: host.name_label,
      bridge: network.bridge,
      args: applyArgsFor(resolved.binding, network.bridge, managementBridge, gatewayCheckSeconds),
      bindingIndex: resolved.index,
      vmUuid: vm.uuid,
      srs: resolved.binding.srs,
    }
    if (resolved.binding.managementAddress && !managementBridge) desired.noManagementPif = true
    state.bindings.set(key, desired)
  }
  return state
}
