// Resolves parsed bindings against the connected pools: the VM must exist, the network
// (UUID or exact name) must exist once in the VM's pool, and the VM must have a VIF on it.
// Each problem is a message naming the binding and the value at fault.

import { type Binding, bindingLabel, rejectClaimedTwice } from '../shared/binding.ts'
import { BinderError, invalidArgument } from '../shared/errors.ts'
import { type NetworkRecord, PoolIndex, type VifRecord, type VmRecord, type XapiConnection } from './xapi-types.ts'
import { isUuid } from '../shared/xapi-ids.ts'

export interface ResolvedBinding {
  index: number
  label: string
  binding: Binding
  /** Pool UUID. */
  poolId: string
  vmUuid: string
  networkUuid: string
}

export interface UnresolvedBinding {
  index: number
  label: string
  binding: Binding
  /** `vm-unknown`: no connected pool has the VM (its pool may not be connected yet). */
  kind: 'vm-unknown' | 'invalid'
  error: BinderError
}

export interface Resolution {
  resolved: ResolvedBinding[]
  unresolved: UnresolvedBinding[]
}

function describe(record: { name_label: string; uuid: string }): string {
  return `${JSON.stringify(record.name_label)} (${record.uuid})`
}

/** No network given: the VM's one network without PIF (the private network it shares with dom0). */
function privateNetworkOf(index: PoolIndex, vm: VmRecord, label: string): NetworkRecord {
  const networks = new Map<string, NetworkRecord>()
  for (const ref of vm.VIFs) {
    const network = index.ref<NetworkRecord>(index.ref<VifRecord>(ref, 'VIF')?.network, 'network')
    if (network && network.PIFs.length === 0) networks.set(network.uuid, network)
  }
  if (networks.size === 1) return [...networks.values()][0]!
  if (networks.size === 0)
    throw invalidArgument(
      `${label}: VM ${describe(vm)} has no VIF on a private network (one without PIF): choose the network`,
      vm.uuid,
    )
  throw invalidArgument(
    `${label}: VM ${describe(vm)} has VIFs on several private networks (${[...networks.values()].map(n => JSON.stringify(n.name_label)).join(', ')}): choose the network`,
    vm.uuid,
  )
}

function resolveNetwork(index: PoolIndex, text: string, label: string, poolName: string): NetworkRecord {
  if (isUuid(text)) {
    const byUuid = index.uuid<NetworkRecord>(text.toLowerCase(), 'network')
    if (byUuid) return byUuid
  }
  const named = index.all<NetworkRecord>('network').filter(n => n.name_label === text)
  if (named.length === 1) return named[0]!
  if (named.length > 1) {
    throw invalidArgument(
      `${label}: network name ${JSON.stringify(text)} is ambiguous in pool ${JSON.stringify(poolName)}: use one of the UUIDs ${named.map(n => n.uuid).join(', ')}`,
      text,
    )
  }
  throw invalidArgument(
    `${label}: network ${JSON.stringify(text)} not found in pool ${JSON.stringify(poolName)} (give its UUID or its exact name)`,
    text,
  )
}

function resolveIn(
  xapi: XapiConnection,
  index: PoolIndex,
  binding: Binding,
  position: number,
): ResolvedBinding | undefined {
  const vm = index.uuid<VmRecord>(binding.vm, 'VM')
  if (!vm) return undefined
  const label = bindingLabel(position, binding)
  if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) {
    throw invalidArgument(
      `${label}: ${describe(vm)} is a template, snapshot or control domain, not a VM that can run a firewall`,
      binding.vm,
    )
  }
  const poolName = xapi.pool?.name_label ?? '?'
  const network = binding.network
    ? resolveNetwork(index, binding.network, label, poolName)
    : privateNetworkOf(index, vm, label)
  const hasVif = vm.VIFs.some(ref => index.ref<VifRecord>(ref, 'VIF')?.network === network.$ref)
  if (!hasVif)
    throw invalidArgument(`${label}: VM ${describe(vm)} has no VIF on network ${describe(network)}`, binding.network)
  for (const { sr } of binding.srs) {
    if (!index.uuid(sr, 'SR'))
      throw invalidArgument(`${label}: SR ${sr} not found in pool ${JSON.stringify(poolName)}`, sr)
  }
  // Reports name what the admin recognises: the VM's and the network's names.
  const named = `binding ${position + 1} (VM ${JSON.stringify(vm.name_label)}, network ${JSON.stringify(network.name_label)})`
  return { index: position, label: named, binding, poolId: xapi.pool!.uuid, vmUuid: vm.uuid, networkUuid: network.uuid }
}

export function resolveBindings(bindings: Binding[], xapis: XapiConnection[]): Resolution {
  const pools = xapis.filter(x => x.pool !== undefined).map(x => ({ xapi: x, index: new PoolIndex(x) }))
  const resolution: Resolution = { resolved: [], unresolved: [] }
  bindings.forEach((binding, position) => {
    const label = bindingLabel(position, binding)
    try {
      for (const { xapi, index } of pools) {
        const resolved = resolveIn(xapi, index, binding, position)
        if (resolved) {
          resolution.resolved.push(resolved)
          return
        }
      }
      resolution.unresolved.push({
        index: position,
        label,
        binding,
        kind: 'vm-unknown',
        error: invalidArgument(
          `${label}: VM ${JSON.stringify(binding.vm)} is unknown: no connected pool has it`,
          binding.vm,
        ),
      })
    } catch (error) {
      if (!(error instanceof BinderError)) throw error
      resolution.unresolved.push({ index: position, label, binding, kind: 'invalid', error })
    }
  })
  // Same checks as before resolution, now on identities: one network typed by name in one
  // binding and by UUID in another is the same network.
  rejectClaimedTwice(
    resolution.resolved.map(r => ({ ...r.binding, vm: r.vmUuid, network: r.networkUuid })),
    resolution.resolved.map(r => r.index),
  )
  return resolution
}
