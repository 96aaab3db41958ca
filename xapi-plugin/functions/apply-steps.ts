// The pieces of an apply that concern one bridge at a time: what the pool's configuration
// may not re-apply, the record written before acting, the gateway checks, and what a
// silent gateway leaves.

import { type Family, familyName } from '../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type ApplyRequest, encodeApplyArgs, parseApplyArgs } from '../../shared/plugin-args.ts'
import type { ApplyResult, BridgeRecord, Step } from '../../shared/results.ts'
import { type PoolHold, describePoolHold } from '../../shared/pool-holds.ts'
import { heldBackFor, poolHeldBackFor, settleHoldOnApply } from '../engine/held-back.ts'
import { inverseOf } from '../engine/execute.ts'
import { checkGateway } from '../engine/gateway-check.ts'
import type { Observed } from '../engine/observe.ts'
import type { Plan } from '../engine/plan.ts'
import type { State } from '../engine/state.ts'
import type { Logger } from '../runtime/log.ts'
import { armWindows } from './confirm.ts'
import type { CallContext } from './context.ts'

export type Switch = Extract<Step, { action: 'switch-default-route' }>
export type Checked = ApplyResult['gatewayChecks'][number]

const HELD_BACK =
  'a change to these arguments was reverted unconfirmed: kept as before until applied explicitly (apply, or a new configuration)'

/**
 * The request to apply: the one asked, or, when it comes from the pool's configuration and
 * is a change that was reverted unconfirmed (here, or on another host of the pool: `poolHold`),
 * the arguments this bridge had before it (null: it had none, nothing to apply).
 * engine/held-back.ts says which applies lift the hold.
 */
export function effectiveRequest(
  state: State,
  asked: ApplyRequest,
  ctx: CallContext,
  fromPool = false,
  poolHold?: PoolHold,
): ApplyRequest | null {
  const args = encodeApplyArgs(asked)
  const local = fromPool ? heldBackFor(state, asked.bridge, args) : undefined
  const kept = local === undefined && fromPool && poolHold ? poolHeldBackFor(state, asked.bridge, args) : local
  if (kept !== undefined) {
    const why = local === undefined && poolHold ? describePoolHold(poolHold) : HELD_BACK
    ctx.log.log('warning', `apply from the pool's configuration: ${why}`, { bridge: asked.bridge })
  }
  if (kept === null) return null
  if (!asked.dryRun) settleHoldOnApply(state, asked.bridge, args, fromPool)
  return kept ? { ...parseApplyArgs(kept), dryRun: asked.dryRun } : asked
}

/** The pool-wide hold a call from the pool's configuration names for this request's bridge. */
export const poolHold = (options: { fromPool?: boolean; poolHolds?: Record<string, PoolHold> }, asked: ApplyRequest) =>
  options.fromPool ? options.poolHolds?.[asked.bridge] : undefined

export const heldBackResult = (request: ApplyRequest, poolHold?: PoolHold): ApplyResult => ({
  bridge: request.bridge,
  dryRun: request.dryRun,
  changes: [],
  unchanged: [],
  gatewayChecks: [],
  heldBack: poolHold ? describePoolHold(poolHold) : HELD_BACK,
})

/**
 * Written before acting, so a call killed half-way leaves records that own everything it
 * might have added and still know which default route to give back, and a revert armed
 * (its process started) that undoes all of it. One save for every bridge of the call.
 */
export async function writeIntents(
  jobs: { plan: Plan; previousRecord: BridgeRecord | undefined; result: ApplyResult }[],
  state: State,
  ctx: CallContext,
  seconds: number,
): Promise<void> {
  const changes = jobs.map(({ plan, previousRecord }) => ({
    bridge: plan.final.bridge,
    before: previousRecord,
    steps: [...plan.make, ...plan.break],
    seconds,
  }))
  const confirmations = await armWindows(state, ctx, changes, () => {
    for (const { plan } of jobs) state.bridges[plan.final.bridge] = plan.intent
  })
  jobs.forEach(({ result }, i) => {
    if (confirmations[i]) result.confirmation = confirmations[i]
  })
}

export const switchesOf = (steps: Step[]) => steps.filter((s): s is Switch => s.action === 'switch-default-route')

/** Asks one gateway from the bridge itself, so the check needs no default route through it. */
export async function askGateway(bridge: string, family: Family, gateway: string, seconds: number): Promise<Checked> {
  return { family, gateway, ...(await checkGateway(bridge, family, gateway, seconds)) }
}

/** Asks each new gateway at once. */
export function checkGateways(request: ApplyRequest, switches: Switch[]): Promise<Checked[]> {
  if (request.gatewayCheckSeconds <= 0) return Promise.resolve([])
  const { bridge, gatewayCheckSeconds } = request
  return Promise.all(switches.map(s => askGateway(bridge, s.family, s.to.gateway!, gatewayCheckSeconds)))
}

/** What the log and the error say of the gateways that did not answer. */
export const silentGateways = (silent: Checked[]) =>
  silent.map(c => `${familyName(c.family)} gateway ${c.gateway}: ${c.reason}`).join('; ')

/**
 * The default routes that go in with the addresses, before their gateway is asked: those
 * of a family dom0 has no default route of at all (they displace and shadow nothing, so
 * they cut nobody off; a route of another metric would be shadowed by ours while the
 * gateway may be silent), on a bridge with no record yet or whose record owns that
 * family's route (the bridge went and took it). A record that keeps no route of the family
 * is a failed check's: the retries then wait for the gateway's answer, so a firewall still
 * booting sees one switch undone, not a flapping.
 */
export function switchesAtOnce(make: Step[], observed: Observed, record: BridgeRecord | undefined): Switch[] {
  return switchesOf(make).filter(
    s => observed.defaults[s.family].length === 0 && (!record || record.defaultRoutes.some(d => d.family === s.family)),
  )
}

/** The make steps but the switches that wait for their gateway; the switches stay last, after the addresses. */
export const withoutLaterSwitches = (make: Step[], atOnce: Switch[]) =>
  make.filter(s => s.action !== 'switch-default-route' || atOnce.includes(s))

/**
 * A silent gateway's route switched at once is undone: its slot gets back the route we
 * first displaced (the bridge went, and our route with it: never no way out), or stays
 * empty as it was.
 */
export function wayOut(atOnce: Switch[], silent: Checked[]): Step[] {
  return atOnce.filter(s => silent.some(c => c.family === s.family)).flatMap(s => inverseOf(s) ?? [])
}

/**
 * Never lock the admin out: the default routes whose new gateway did not answer were never
 * switched; the record keeps what they were, and the bridge's apply fails. The addresses
 * stay (they harm nothing, and a later apply converges from them). Returns that failure.
 */
export function keepDefaultRoutes(
  silent: Checked[],
  plan: Plan,
  record: BridgeRecord,
  state: State,
  log: Logger,
): BinderError {
  const { bridge } = plan.final
  const isSilent = (family: number) => silent.some(f => f.family === family)
  state.bridges[bridge] = {
    ...plan.intent,
    defaultRoutes: [
      ...plan.intent.defaultRoutes.filter(d => !isSilent(d.family)),
      ...record.defaultRoutes.filter(d => isSilent(d.family)),
    ],
  }
  const words = silentGateways(silent)
  log.log('warning', 'gateway did not answer, default route left as it was', { bridge, failed: silent })
  return new BinderError(
    ErrorCode.GATEWAY_UNREACHABLE,
    `${words}; the default route was left as it was`,
    silent.map(f => f.gateway),
  )
}
