// What makes a firewall VM's VIF drop or corrupt dom0's traffic, from its xapi record.
// - TX checksum offload: pfSense/OPNsense on Xen need it off on their VIFs, or traffic
//   between dom0 and the VM fails in subtle ways (XCP-ng's pfSense guide; xcp-ng/xcp#89).
//   xapi's vif script applies other-config:ethtool-tx when the VIF plugs (xenopsd
//   scripts/vif-real, handle_ethtool), so a change takes effect at the VIF's next plug.
// - locking_mode (xapi datamodel vif_locking_mode): `disabled` drops everything; `locked`
//   lets through only the VIF's own ipv4_allowed/ipv6_allowed sources, and a firewall
//   forwards dom0's traffic from everywhere else; `network_default` follows the network's
//   default_locking_mode (`unlocked` or `disabled`).
// Both plugins report these with the `xe` command that fixes them.

export interface VifFacts {
  uuid: string
  other_config: Record<string, string>
  locking_mode: string
  ipv4_allowed: string[]
  ipv6_allowed: string[]
}

export interface VifProblem {
  code: 'TX_CHECKSUM_OFFLOAD_ON' | 'LOCKING_MODE_DROPS_TRAFFIC'
  message: string
  /** The command that fixes it. */
  fix: string
}

export const NEXT_PLUG = "takes effect at the VIF's next plug (restart the VM, or unplug and plug the VIF)"

function checksumProblem(vif: VifFacts): VifProblem | undefined {
  const tx = vif.other_config['ethtool-tx']
  if (tx === 'off' || tx === 'false') return undefined
  return {
    code: 'TX_CHECKSUM_OFFLOAD_ON',
    message: `TX checksum offload is ${tx ? `"${tx}"` : 'not turned off'} on this firewall VIF: pfSense and OPNsense need it off, or traffic with dom0 fails in subtle ways; the fix ${NEXT_PLUG}`,
    fix: `xe vif-param-set uuid=${vif.uuid} other-config:ethtool-tx="off"`,
  }
}

function lockingProblem(vif: VifFacts, networkDefault: string, gateways: string[]): VifProblem | undefined {
  const mode = vif.locking_mode === 'network_default' ? networkDefault : vif.locking_mode
  const fix = `xe vif-param-set uuid=${vif.uuid} locking-mode=unlocked`
  if (mode === 'disabled') {
    const how = vif.locking_mode === 'network_default' ? "(its network's default_locking_mode)" : ''
    return {
      code: 'LOCKING_MODE_DROPS_TRAFFIC',
      message: `locking mode disabled ${how}: this VIF passes no traffic at all`.replace('  ', ' '),
      fix,
    }
  }
  if (mode !== 'locked') return undefined
  const allowed = new Set([...vif.ipv4_allowed, ...vif.ipv6_allowed])
  const missing = gateways.filter(g => !allowed.has(g))
  const words = missing.length
    ? `not even the gateway ${missing.join(', ')} may send from it`
    : 'only its own addresses may send from it'
  return {
    code: 'LOCKING_MODE_DROPS_TRAFFIC',
    message: `locking mode locked: ${words}, so the traffic the firewall forwards to dom0 (storage, the Internet) is dropped`,
    fix,
  }
}

/** Problems of a bound firewall VIF; `gateways` are the binding's gateways on it. */
export function vifProblems(vif: VifFacts, networkDefaultLockingMode: string, gateways: string[]): VifProblem[] {
  return [checksumProblem(vif), lockingProblem(vif, networkDefaultLockingMode, gateways)].filter(
    (p): p is VifProblem => p !== undefined,
  )
}
