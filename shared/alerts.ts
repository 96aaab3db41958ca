// The xapi messages the host plugin leaves where admins look (Xen Orchestra's alerts and
// logs, `xe message-list`): their names are a contract like the error codes (add, never
// rename). Priorities follow xapi's own scale (ocaml/xapi-consts/api_messages.ml in
// xen-api): 1 critical, 2 major ("some service may fail"), 3 warning ("some service may
// suffer"), 4 minor ("something just improved"), 5 informational.

export type AlertCause =
  | 'bind-failed'
  | 'gateway-unreachable'
  | 'srs-detached'
  | 'reverted'
  | 'rescued'
  | 'auto-start-failed'
  | 'held-back'

export interface AlertKind {
  name: string
  priority: 1 | 2 | 3 | 4 | 5
  /** xapi's message class: what `obj_uuid` names. */
  cls: 'Host' | 'VM'
  /** Whose occurrences are one alert: a repeat of the same subject is not sent again within the hour. */
  subject: 'bridge' | 'SR' | 'host' | 'VM'
}

export const ALERTS: Record<AlertCause, AlertKind> = {
  /** The host's own paths (boot, vif-hotplug) could not bind a bridge: dom0 is likely out of reach. */
  'bind-failed': { name: 'VIF_IP_BINDER_BIND_FAILED', priority: 2, cls: 'Host', subject: 'bridge' },
  /** The new gateway never answered: dom0 kept its previous default route. */
  'gateway-unreachable': { name: 'VIF_IP_BINDER_GATEWAY_UNREACHABLE', priority: 3, cls: 'Host', subject: 'bridge' },
  /** Network SRs still detached once the wait for their server ended (xapi's PBD_PLUG_FAILED_ON_SERVER_START is 3). */
  'srs-detached': { name: 'VIF_IP_BINDER_SR_DETACHED', priority: 3, cls: 'Host', subject: 'SR' },
  /** A change applied with a confirmation window was not confirmed in time and was undone. */
  reverted: { name: 'VIF_IP_BINDER_REVERTED', priority: 3, cls: 'Host', subject: 'bridge' },
  /** A host that came up disabled was enabled, and VMs started, by the rescue. */
  rescued: { name: 'VIF_IP_BINDER_RESCUED', priority: 4, cls: 'Host', subject: 'host' },
  /** An auto_poweron VM that storage held back failed to start. */
  'auto-start-failed': { name: 'VIF_IP_BINDER_AUTO_START_FAILED', priority: 3, cls: 'VM', subject: 'VM' },
  /** The hook, reconcile or boot bound nothing: what the configuration asks was reverted unconfirmed (on any host). */
  'held-back': { name: 'VIF_IP_BINDER_HELD_BACK', priority: 2, cls: 'Host', subject: 'bridge' },
}

/** Every message name this product writes starts with it. */
export const ALERT_PREFIX = 'VIF_IP_BINDER_'

/** How long a repeat of an open alert is only counted, not sent again. */
export const ALERT_REPEAT_SECONDS = 60 * 60
