// Why is this host disabled, and would xapi itself have enabled it? xapi's own rule
// (ocaml/xapi/xapi_host_helpers.ml, consider_enabling_host, run at startup and again when
// the management network comes back) keeps a host disabled when a user asked for it, HA is
// armed and a PBD failed, mandatory update guidances are pending, or an HA shutdown set
// host_disabled_until_reboot; a persistent host.disable (auto_enable=false, xapi 25.31+)
// survives reboots. host.enable would override a persistent disable (it resets
// host_auto_enable), so rescue asks here first and enables only what xapi would have.

import type { RescueCase } from '../../shared/results.ts'

export interface DisabledHostFacts {
  enabled: boolean
  /** /var/lib/xcp/local.db rows (host_auto_enable, host_disabled_until_reboot, ha.armed). */
  localDb: Record<string, string>
  /** host.pending_guidances: the mandatory ones (absent before xapi 1.303). */
  pendingGuidances: string[]
  hostOtherConfig: Record<string, string>
  /** pool.ha_enabled. */
  haEnabled: boolean
  /** Names of the SRs whose PBD on this host is not attached. */
  detachedSrs: string[]
}

export interface RescueVerdict {
  case: RescueCase
  enable: boolean
  reason: string
}

const list = (items: string[]) => items.map(i => JSON.stringify(i)).join(', ')

/** The reasons xapi keeps a host disabled, in the order its own rule meets them. */
function keptDisabled(facts: DisabledHostFacts): RescueVerdict | undefined {
  const { localDb } = facts
  const leave = (kind: RescueCase, reason: string): RescueVerdict => ({ case: kind, enable: false, reason })
  if (localDb.host_disabled_until_reboot === 'true') {
    return leave('disabled-until-reboot', 'xapi keeps it disabled until it reboots (an HA shutdown or reboot began)')
  }
  if (facts.pendingGuidances.length) {
    return leave(
      'pending-guidances',
      `mandatory update guidances are pending (${list(facts.pendingGuidances)}): xapi keeps it disabled until they are applied`,
    )
  }
  if (localDb.host_auto_enable === 'false') {
    return leave(
      'disabled-persistently',
      "disabled on purpose with automatic re-enable off (host.disable auto_enable=false: `xe host-disable auto-enable=false`, or Xen Orchestra's REST API disable and maintenance, whose autoEnable defaults to false): xapi keeps it disabled across reboots until someone runs host.enable",
    )
  }
  if (facts.hostOtherConfig.MAINTENANCE_MODE === 'true') {
    return leave(
      'maintenance-mode',
      'in maintenance mode (host other_config:MAINTENANCE_MODE=true): leave it with `xe host-enable`',
    )
  }
  if ((facts.haEnabled || localDb['ha.armed'] === 'true') && facts.detachedSrs.length) {
    return leave(
      'ha-storage-missing',
      `HA is armed and ${list(facts.detachedSrs)} not attached here: xapi keeps such a host disabled so protected VMs keep their storage`,
    )
  }
  return undefined
}

export function judgeDisabledHost(facts: DisabledHostFacts): RescueVerdict {
  if (facts.enabled) return { case: 'enabled', enable: false, reason: 'the host is enabled: nothing to rescue' }
  return (
    keptDisabled(facts) ?? {
      case: 'network-missing',
      enable: true,
      reason:
        'disabled for none of the reasons xapi keeps a host disabled: only its network (and storage) was missing, and xapi re-enables such a host once its management network comes back',
    }
  )
}
