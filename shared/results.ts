// The wire contract's results: what each host function returns (as JSON in xapi's
// `Value`), and so what Xen Orchestra and admins read. Both plugins import these types and
// neither imports the other: a change here is a change of protocol (see version.ts).

import type { Family } from './addresses.ts'
import type { Pause } from './pause.ts'
import type { PluginArgs } from './plugin-args.ts'
import type { VifProblem } from './vif-health.ts'

/** The kernel's words for a default route's identity: ip route replace matches on these. */
export interface DefaultRoute {
  family: Family
  gateway?: string
  dev?: string
  metric?: number
  protocol?: string
  onlink?: boolean
}

export type Step =
  | { action: 'link-up'; dev: string }
  | { action: 'add-address'; dev: string; cidr: string }
  | { action: 'remove-address'; dev: string; cidr: string }
  | {
      action: 'add-route'
      family: Family
      destination: string
      via?: string
      dev: string
      replace: boolean
      /** The route `replace` overwrites, for undoing it. */
      previous?: { via?: string; dev: string }
    }
  | { action: 'remove-route'; family: Family; destination: string; via?: string; dev: string }
  | { action: 'set-sysctl'; path: string; value: string; previous: string }
  | { action: 'switch-default-route'; family: Family; to: DefaultRoute; from: DefaultRoute | null; description: string }
  | { action: 'remove-default-route'; family: Family; route: DefaultRoute; description: string }

export interface Unchanged {
  what: 'address' | 'route' | 'sysctl' | 'default-route'
  value: string
}

export interface OwnedRoute {
  destination: string
  via?: string
}

export interface OwnedDefaultRoute {
  family: Family
  /** The route we put in place. */
  ours: DefaultRoute
  /** What it replaced, to restore on release; null when there was no default route. */
  previous: DefaultRoute | null
}

export interface OwnedSysctl {
  path: string
  previous: string
  value: string
}

export interface BridgeRecord {
  bridge: string
  /** The last apply's arguments, to report drift against. */
  desired: PluginArgs
  /** Addresses (CIDR text) we added on the bridge. */
  addresses: string[]
  /** Management-bridge mirrors (address/32 or /128) we added. */
  mirrors: { dev: string; cidr: string }[]
  routes: OwnedRoute[]
  defaultRoutes: OwnedDefaultRoute[]
  sysctls: OwnedSysctl[]
  updatedAt: string
}

export interface GatewayCheck {
  reachable: boolean
  attempts: number
  elapsedMs: number
  /** Why it failed, in words for the admin. */
  reason?: string
}

export interface ApplyResult {
  bridge: string
  dryRun: boolean
  changes: Step[]
  unchanged: Unchanged[]
  gatewayChecks: (GatewayCheck & { family: Family; gateway: string })[]
  /** Armed by `confirm=N` (or joined while one is pending): `confirm token=…` before the deadline keeps the change. */
  confirmation?: ConfirmationHandle
  /** An earlier unconfirmed change whose deadline had passed, reverted by this call before it acted. */
  reverted?: RevertOutcome
  /** From the pool's configuration, these arguments were a reverted change: the bridge kept its previous ones. */
  heldBack?: string
}

/** The upper bound of `confirm=N`, in seconds. */
export const MAX_CONFIRM_SECONDS = 3600

export interface ConfirmationHandle {
  /**
   * This call's own token: `confirm` with it keeps this call's change. Absent when the change
   * asked for no window and joined another caller's: it cannot confirm what it did not arm.
   */
  token?: string
  /** ISO 8601: the revert runs at this moment unless confirmed. */
  deadline: string
  /** The window this call asked for (0 when it joined a pending one without asking). */
  seconds: number
}

/**
 * Changes applied with a confirmation window and not confirmed yet. One per host: a change
 * made while one is pending joins it (see README, `apply` with `confirm=`).
 */
export interface PendingConfirmation extends ConfirmationHandle {
  /** The window's first token: it names the window (its revert process, lastRevert). */
  token: string
  /** The tokens of the calls that joined the window asking for one and have not confirmed yet (absent: [token]). */
  tokens?: string[]
  /** The tokens already confirmed while others are not yet. */
  confirmed?: string[]
  armedAt: string
  /** The kernel's boot id when armed: a change armed before the last boot is overdue whatever its deadline. */
  bootId?: string
  /** Each changed bridge's record before the first unconfirmed change (null: it had none). */
  before: Record<string, BridgeRecord | null>
  /** Every step of the unconfirmed changes, in the order they were to run: the revert undoes them in reverse. */
  steps: Step[]
  /** The detached process that reverts at the deadline. */
  worker?: number
}

/** What a revert did, kept in the state until the next one. */
export interface RevertOutcome {
  token: string
  /** Every token the window had (absent: token only). */
  tokens?: string[]
  deadline: string
  revertedAt: string
  /**
   * Who ran it: the detached process at the deadline, a later call that found it overdue,
   * boot, or a release of one of its bridges before it was confirmed.
   */
  by: 'deadline' | 'overdue' | 'boot' | 'release'
  bridges: string[]
  /** Why it ran, in words for the admin. */
  reason: string
}

export interface ConfirmResult {
  confirmed: true
  token: string
  bridges: string[]
  deadline: string
  confirmedAt: string
  /**
   * Other callers joined the window and have not confirmed their changes yet: the window is
   * kept only once they do, and reverts as a whole at the deadline otherwise.
   */
  othersUnconfirmed?: number
}

/** The most requests one apply-many takes. */
export const MAX_APPLY_MANY = 64

/** apply-many: one entry per request, in order; a failed bridge does not stop the others. */
export interface ApplyManyResult {
  results: ((ApplyResult & { ok: true }) | { ok: false; bridge: string; errorDescription: string[] })[]
  /** Every bridge the host holds once the call is done, with its recorded arguments (not only those asked). */
  holds: Record<string, PluginArgs>
}

export interface ReleaseResult {
  bridge: string
  dryRun: boolean
  /** False when nothing was recorded for this bridge (a no-op, not an error). */
  released: boolean
  changes: Step[]
  /** Released in a confirmation window (configure confirm=N dropped its binding): reverted unless confirmed. */
  confirmation?: ConfirmationHandle
}

export interface BridgeStatus {
  recorded: BridgeRecord | null
  kernel: {
    exists: boolean
    up: boolean
    addresses: string[]
    defaultRoutes: { ipv4: string; ipv6: string }
  }
  inSync: boolean
  drift: Step[]
  /** Why the drift could not be computed (e.g. the bridge is gone). */
  problem?: string
}

/** Which parts of the host plugin are in place, so a half install shows (Test button, status). */
export interface InstalledParts {
  parts: { plugin: boolean; hook: boolean; 'boot unit': boolean; 'boot unit enabled': boolean }
  complete: boolean
  /**
   * Some parts beyond the plugin are there, not all: a broken install or removal. (The
   * plugin alone is a deliberate minimal install: the host then recovers through XO only.)
   */
  half: boolean
  /** Where the boot unit was found. */
  unit?: string
}

export interface StatusResult {
  bridges: Record<string, BridgeStatus>
  paused?: Pause
  installed: InstalledParts
  /** The bound firewall VIFs attached here, checked (read from the local xapi); absent with firewall-vifs=false. */
  firewallVifs?: FirewallVifHealth[]
  /** Why they could not be checked. */
  firewallVifsProblem?: string
  /** A change waiting for `confirm`, and whether its revert process is still running. */
  confirmation?: PendingConfirmation & { workerRunning: boolean }
  /** The last revert of an unconfirmed change. */
  lastRevert?: RevertOutcome
  /** The xapi messages this host raised whose condition has not ended (`xe message-list name=NAME`). */
  alerts?: OpenAlertSummary[]
}

export interface OpenAlertSummary {
  name: string
  /** The bridge, SR UUID, host UUID or VM UUID it is about. */
  subject: string
  /** When the open message was created. */
  since: string
  /** Occurrences since, counted rather than sent again. */
  repeats: number
}

export interface VersionResult {
  name: string
  version: string
  protocol: number
  paused?: Pause
  installed: InstalledParts
}

/** A bound firewall VIF on this host and what would make it drop or corrupt dom0's traffic. */
export interface FirewallVifHealth {
  vif: string
  vm: string
  device: string
  bridge: string
  problems: VifProblem[]
}

export interface ProbeOutcome {
  target: string
  reachable: boolean
  attempts: number
  elapsedMs: number
  error?: string
}

export interface PbdOutcome {
  pbd: string
  outcome: 'plugged' | 'already-attached' | 'failed' | 'unreachable'
  /** xapi's error for a failed plug: code then parameters. */
  error?: string[]
  elapsedMs: number
}

export interface SrOutcome {
  sr: string
  name: string
  /** What its device_config says: a network server to wait for, local, or a shape not known here. */
  storage: 'network' | 'local' | 'unknown'
  /** Why an unknown shape could not be probed as its driver would reach it. */
  problem?: string
  ok: boolean
  probe: ProbeOutcome | null
  pbds: PbdOutcome[]
}

export interface ReconcileResult {
  host: string
  configured: boolean
  /** Set when the host is paused: then nothing was done. */
  paused?: Pause
  applied: { vm: string; bridge: string; changes: number; error?: string[] }[]
  /** heldBack: kept, not released (a release from the configuration was reverted unconfirmed). */
  released: { bridge: string; changes: number; error?: string[]; heldBack?: string }[]
  srs: SrOutcome[]
}

/** `refresh-index`: the hook's local index, rewritten from the pool document now. */
export interface RefreshIndexResult {
  host: string
  /** The pool has a document (false: no binding, the hook has nothing to do on this host). */
  configured: boolean
  refreshedAt: string
  /** The bound VMs the index names (UUIDs). */
  vms: string[]
  /** The bridges of this host the hook binds from the index. */
  bridges: string[]
  /** Not written: a refresh or an explicit call that began after this one settled the index first. */
  superseded?: true
}

export interface RescueStep {
  vm: string
  name: string
  role: 'bound' | 'auto-start'
  outcome: 'started' | 'failed' | 'skipped'
  reason?: string
  attempts?: number
}

/**
 * Why the host is (or is not) disabled, as xapi's own re-enable rule sees it
 * (xapi_host_helpers.ml consider_enabling_host): only `network-missing` is a host xapi
 * itself would have enabled once its network came back, and the only one rescue enables.
 */
export type RescueCase =
  | 'rescue-off'
  /** The host's automatic actions are paused (configure pause): nothing was looked at. */
  | 'paused'
  | 'enabled'
  | 'disabled-until-reboot'
  | 'pending-guidances'
  | 'disabled-persistently'
  | 'maintenance-mode'
  | 'ha-storage-missing'
  | 'network-missing'

export interface RescueResult {
  host: string
  case: RescueCase
  acted: boolean
  reason: string
  enabled?: boolean
  steps: RescueStep[]
}

/** One auto_poweron VM that storage held back: what starting it did. */
export interface AutoStartStep {
  vm: string
  name: string
  order: number
  outcome: 'started' | 'failed' | 'skipped'
  reason?: string
  /** xapi's error for a failed start: code then parameters. */
  error?: string[]
  /** When its VM.start was sent (ISO time); xapi waits the VM's start_delay inside that call. */
  startedAt?: string
}

export interface BootResult {
  waitedMs: number
  /** Set when the host is paused: then rescue and reconcile did nothing. */
  paused?: Pause
  /** A change left unconfirmed when the host went down, reverted before anything else. */
  reverted?: RevertOutcome
  /** Why that revert did not run before the rest of boot (the host lock was busy), and what reverts it instead. */
  revertDeferred?: string
  rescue: RescueResult
  reconcile: ReconcileResult
}
