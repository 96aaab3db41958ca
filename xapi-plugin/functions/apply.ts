// apply: bind a bridge's addresses, routes, sysctls and default routes, make before break,
// verify the new gateways, and record what we own.

import { familyName } from '../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type ApplyRequest, encodeApplyArgs, parseApplyArgs } from '../../shared/plugin-args.ts'
import type { ApplyResult, BridgeRecord, Step } from '../../shared/results.ts'
import { viewBridge } from '../engine/bridge-view.ts'
import { inverseOf, runSteps, undoSteps } from '../engine/execute.ts'
import { BINDING_FAILURES, clearAlerts } from '../engine/alerts.ts'
import { checkGateway } from '../engine/gateway-check.ts'
import { withHostLock } from '../engine/lock.ts'
import type { KernelRead } from '../kernel/ip-batch.ts'
import type { Observed } from '../engine/observe.ts'
import { type Plan, planApply } from '../engine/plan.ts'
import { type State, emptyRecord } from '../engine/state.ts'
import { heldBackFor, liftHoldBack, restartWindow, settleOverdue } from '../engine/confirmation.ts'
import { armWindow } from './confirm.ts'
import type { CallContext } from './context.ts'

type Switch = Extract<Step, { action: 'switch-default-route' }>
type Checked = ApplyResult['gatewayChecks'][number]

export interface ApplyOptions {
  /**
   * Only what needs no answer from the gateway first: addresses, mirrors, routes, sysctls,
   * and the default routes switched at once (switchesAtOnce). Nothing removed, no gateway
   * asked; the record stays the plan's intent, so a full apply afterwards finds the rest
   * to do, and verifyDefaultRoutes asks the gateways the switch did not wait for. For the
   * vif-hotplug hook, which must not wait.
   */
  prepareOnly?: boolean
  /** A kernel read that is still true (apply-many's, while nothing has changed since). */
  kernel?: KernelRead
  /** Seconds before the change reverts by itself unless confirmed (0: none, unless one is pending). */
  confirmSeconds?: number
  /** From the pool's configuration (the hook, reconcile, boot), not asked for by a caller: see State.heldBack. */
  fromPool?: boolean
}

export async function apply(request: ApplyRequest, ctx: CallContext, options: ApplyOptions = {}): Promise<ApplyResult> {
  const result = await withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, () => applyHeld(request, ctx, options))
  if (!request.dryRun && !options.prepareOnly) await clearAlerts(ctx, BINDING_FAILURES, request.bridge)
  return result
}

/** apply, with the host lock already held. */
export async function applyHeld(
  asked: ApplyRequest,
  ctx: CallContext,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const { log, store } = ctx
  const { bridge } = asked
  const state = store.load()
  const reverted = asked.dryRun ? undefined : await settleOverdue(state, ctx)
  const instead = options.fromPool ? heldBackInstead(state, asked, ctx) : undefined
  if (instead === null) return { ...heldBackResult(asked), ...(reverted ? { reverted } : {}) }
  if (!asked.dryRun) liftHoldBack(state, bridge, options.fromPool)
  const request = instead ?? asked
  const view = await viewBridge(state, bridge, request.management?.bridge, request, options.kernel)
  const { record: previousRecord, observed } = view
  const record = previousRecord ?? emptyRecord(bridge)
  const others = Object.values(state.bridges).filter(r => r.bridge !== bridge)
  const plan = planApply(request, observed, record, new Date().toISOString(), others)
  const result: ApplyResult = {
    bridge,
    dryRun: request.dryRun,
    changes: [...plan.make, ...plan.break],
    unchanged: plan.unchanged,
    gatewayChecks: [],
    ...(reverted ? { reverted } : {}),
  }
  if (request.dryRun) return result

  await writeIntent(state, plan, previousRecord, ctx, options.confirmSeconds ?? 0, result)
  const restoreRecord = () => {
    if (previousRecord) state.bridges[bridge] = previousRecord
    else delete state.bridges[bridge]
    store.save(state)
  }
  const atOnce = switchesAtOnce(plan.make, observed, previousRecord)
  if (options.prepareOnly) return prepareOnly(plan, atOnce, result, ctx, restoreRecord)
  result.gatewayChecks = await makeThenSwitch(plan.make, atOnce, request, ctx, restoreRecord)
  const silent = result.gatewayChecks.filter(c => !c.reachable)
  if (silent.length) {
    await runSteps(wayOut(atOnce, silent), log)
    keepDefaultRoutes(silent, plan, record, state, ctx, bridge)
  }

  // If a removal fails, what was added stays in place and owned (plan.intent is on disk);
  // the next apply retries the removals.
  await runSteps(plan.break, log)
  state.bridges[bridge] = plan.final
  if (result.confirmation) result.confirmation = restartWindow(state, result.confirmation)
  store.save(state)
  if (result.changes.length) log.log('info', 'applied', { bridge, changes: result.changes.length })
  return result
}

const HELD_BACK =
  'a change to these arguments was reverted unconfirmed: kept as before until applied explicitly (apply, or a new configuration)'

/**
 * A reverted change that the pool's configuration still asks for: undefined (not one), the
 * arguments this bridge had before it, or null (it had none: nothing to apply).
 */
function heldBackInstead(state: State, request: ApplyRequest, ctx: CallContext): ApplyRequest | null | undefined {
  const kept = heldBackFor(state, request.bridge, encodeApplyArgs(request))
  if (kept === undefined) return undefined
  ctx.log.log('warning', `apply from the pool's configuration: ${HELD_BACK}`, { bridge: request.bridge })
  return kept ? { ...parseApplyArgs(kept), dryRun: request.dryRun } : null
}

const heldBackResult = (request: ApplyRequest): ApplyResult => ({
  bridge: request.bridge,
  dryRun: request.dryRun,
  changes: [],
  unchanged: [],
  gatewayChecks: [],
  heldBack: HELD_BACK,
})

/**
 * Written before acting, so a call killed half-way leaves a record that owns everything it
 * might have added and still knows which default route to give back, and a revert armed
 * (its process started) that undoes all of it.
 */
async function writeIntent(
  state: State,
  plan: Plan,
  previousRecord: BridgeRecord | undefined,
  ctx: CallContext,
  seconds: number,
  result: ApplyResult,
): Promise<void> {
  const { bridge } = plan.final
  const steps = [...plan.make, ...plan.break]
  const confirmation = await armWindow(state, ctx, { bridge, before: previousRecord, steps, seconds }, () => {
    state.bridges[bridge] = plan.intent
  })
  if (confirmation) result.confirmation = confirmation
}

async function prepareOnly(
  plan: Plan,
  atOnce: Switch[],
  result: ApplyResult,
  ctx: CallContext,
  restoreRecord: () => void,
): Promise<ApplyResult> {
  result.changes = withoutLaterSwitches(plan.make, atOnce)
  try {
    await runSteps(result.changes, ctx.log)
  } catch (error) {
    restoreRecord()
    throw error
  }
  return result
}

const switchesOf = (steps: Step[]) => steps.filter((s): s is Switch => s.action === 'switch-default-route')

/**
 * The default routes that go in with the addresses, before their gateway is asked: those
 * of a family dom0 has no default route of at all (they displace and shadow nothing, so
 * they cut nobody off; a route of another metric would be shadowed by ours while the
 * gateway may be silent), on a bridge with no record yet or whose record owns that
 * family's route (the bridge went and took it). A record that keeps no route of the family
 * is a failed check's: the retries then wait for the gateway's answer, so a firewall still
 * booting sees one switch undone, not a flapping.
 */
function switchesAtOnce(make: Step[], observed: Observed, record: BridgeRecord | undefined): Switch[] {
  return switchesOf(make).filter(
    s => observed.defaults[s.family].length === 0 && (!record || record.defaultRoutes.some(d => d.family === s.family)),
  )
}

/** The make steps but the switches that wait for their gateway; the switches stay last, after the addresses. */
const withoutLaterSwitches = (make: Step[], atOnce: Switch[]) =>
  make.filter(s => s.action !== 'switch-default-route' || atOnce.includes(s))

/**
 * Runs the plan's make steps, but switches a default route that displaces one only to a
 * gateway that answered on the bridge. The switches come last in a plan: everything before
 * them makes the gateway reachable on the bridge, where it is asked before any route that
 * displaced another points at it. So a firewall still booting never takes the place of a
 * route in use, however many times a caller retries.
 */
async function makeThenSwitch(
  make: Step[],
  atOnce: Switch[],
  request: ApplyRequest,
  ctx: CallContext,
  restoreRecord: () => void,
): Promise<Checked[]> {
  const switches = switchesOf(make)
  const prepare = withoutLaterSwitches(make, atOnce)
  try {
    await runSteps(prepare, ctx.log)
  } catch (error) {
    restoreRecord()
    throw error
  }
  const checks = request.gatewayCheckSeconds > 0 ? await checkGateways(request, switches) : []
  const answered = switches.filter(s => !atOnce.includes(s) && !checks.some(c => c.family === s.family && !c.reachable))
  try {
    await runSteps(answered, ctx.log)
  } catch (error) {
    await undoSteps(prepare, ctx.log)
    restoreRecord()
    throw error
  }
  return checks
}

/**
 * A silent gateway's route switched at once is undone: its slot gets back the route we
 * first displaced (the bridge went, and our route with it: never no way out), or stays
 * empty as it was.
 */
function wayOut(atOnce: Switch[], silent: Checked[]): Step[] {
  return atOnce.filter(s => silent.some(c => c.family === s.family)).flatMap(s => inverseOf(s) ?? [])
}

/** Asks each new gateway from the bridge itself, so the check needs no default route through it. */
function checkGateways(request: ApplyRequest, switches: Switch[]): Promise<Checked[]> {
  return Promise.all(
    switches.map(async s => ({
      family: s.family,
      gateway: s.to.gateway!,
      ...(await checkGateway(request.bridge, s.family, s.to.gateway!, request.gatewayCheckSeconds)),
    })),
  )
}

/**
 * Never lock the admin out: the default routes whose new gateway did not answer were never
 * switched; the record keeps what they were, and the call fails. The addresses stay (they
 * harm nothing, and a later apply converges from them).
 */
function keepDefaultRoutes(
  silent: Checked[],
  plan: Plan,
  record: BridgeRecord,
  state: State,
  ctx: CallContext,
  bridge: string,
): never {
  const isSilent = (family: number) => silent.some(f => f.family === family)
  state.bridges[bridge] = {
    ...plan.intent,
    defaultRoutes: [
      ...plan.intent.defaultRoutes.filter(d => !isSilent(d.family)),
      ...record.defaultRoutes.filter(d => isSilent(d.family)),
    ],
  }
  ctx.store.save(state)
  const words = silent.map(f => `${familyName(f.family)} gateway ${f.gateway}: ${f.reason}`).join('; ')
  ctx.log.log('warning', 'gateway did not answer, default route left as it was', { bridge, failed: silent })
  throw new BinderError(
    ErrorCode.GATEWAY_UNREACHABLE,
    `${words}; the default route was left as it was`,
    silent.map(f => f.gateway),
  )
}
