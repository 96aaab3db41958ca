// The bound firewall VMs' VIFs, as Xen Orchestra sees them: the Test report flags what makes
// them drop or corrupt dom0's traffic (shared/vif-health.ts), and the opt-in setting
// "Turn TX checksum offload off" sets other-config:ethtool-tx=off on them (it takes effect
// at each VIF's next plug, where xapi's vif script applies it).

import { NEXT_PLUG, type VifProblem, vifProblems } from '../shared/vif-health.ts'
import type { ResolvedBinding } from './resolve.ts'
import { type NetworkRecord, PoolIndex, type VifRecord, type VmRecord, type XapiConnection } from './xapi-types.ts'

/** The VIFs of the binding's VM on the binding's network. */
export function boundVifs(index: PoolIndex, resolved: ResolvedBinding): VifRecord[] {
  const vm = index.uuid<VmRecord>(resolved.vmUuid, 'VM')
  const network = index.uuid<NetworkRecord>(resolved.networkUuid, 'network')
  if (!vm || !network) return []
  return vm.VIFs.map(ref => index.ref<VifRecord>(ref, 'VIF')).filter(
    (vif): vif is VifRecord => vif !== undefined && vif.network === network.$ref,
  )
}

export function vifReportLines(index: PoolIndex, resolved: ResolvedBinding): string[] {
  const gateways = resolved.binding.gateways.map(g => g.address)
  const lines: string[] = []
  for (const vif of boundVifs(index, resolved)) {
    const network = index.ref<NetworkRecord>(vif.network, 'network')
    const problems: VifProblem[] = vifProblems(
      {
        uuid: vif.uuid,
        other_config: { ...vif.other_config },
        locking_mode: vif.locking_mode ?? 'network_default',
        ipv4_allowed: [...(vif.ipv4_allowed ?? [])],
        ipv6_allowed: [...(vif.ipv6_allowed ?? [])],
      },
      network?.default_locking_mode ?? 'unlocked',
      gateways,
    )
    for (const p of problems) lines.push(`WARNING: VIF ${vif.device} of the firewall VM: ${p.message}. Fix: ${p.fix}`)
  }
  return lines
}

/** Sets ethtool-tx=off where it is not; returns the VIFs changed. */
export async function turnTxChecksumOff(xapi: XapiConnection, resolved: ResolvedBinding[]): Promise<VifRecord[]> {
  const index = new PoolIndex(xapi)
  const changed: VifRecord[] = []
  for (const binding of resolved.filter(r => r.poolId === xapi.pool?.uuid)) {
    for (const vif of boundVifs(index, binding)) {
      if (vif.other_config?.['ethtool-tx'] === 'off') continue
      // No "set one map entry" in xapi: remove (silent when absent), then add.
      await xapi.call('VIF.remove_from_other_config', vif.$ref, 'ethtool-tx')
      await xapi.call('VIF.add_to_other_config', vif.$ref, 'ethtool-tx', 'off')
      changed.push(vif)
    }
  }
  return changed
}

export const TX_OFF_NOTE = `ethtool-tx=off set on the firewall VIF: it ${NEXT_PLUG}`
