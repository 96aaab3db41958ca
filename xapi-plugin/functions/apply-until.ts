// Applying with nobody to retry for us. The hook fires when the firewall VM's VIF plugs,
// long before pfSense or OPNsense answers a ping (often 30 s and more); XO retries a
// GATEWAY_UNREACHABLE by itself, the host's own paths (hook worker, boot) must too: keep
// trying while the binding is still wanted, for a bounded time. Each try releases the lock.

import { setTimeout as sleep } from 'node:timers/promises'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import type { ApplyRequest } from '../../shared/plugin-args.ts'
import { clearAlerts, raiseAlert } from '../engine/alerts.ts'
import { type ApplyOptions, apply } from './apply.ts'
import type { CallContext } from './context.ts'
import type { LocalXapi } from '../xapi/local-xapi.ts'
import type { BoundVif } from '../xapi/pool-bindings.ts'
import type { ApplyResult } from '../../shared/results.ts'

/** How the hook's worker, reconcile and boot apply a bound VIF: from the pool, with its pool-wide hold. */
export const poolOptions = (bound: BoundVif): ApplyOptions => ({
  fromPool: true,
  ...(bound.hold ? { poolHolds: { [bound.bridge]: bound.hold } } : {}),
})

/** Seconds between tries: soon at first, then every 30 s. */
const RETRY_DELAYS_S = [2, 5, 10, 20, 30]
export const GATEWAY_WAIT_BUDGET_S = 15 * 60

export async function applyUntilGatewayAnswers(
  request: ApplyRequest,
  ctx: CallContext,
  stillWanted: () => Promise<boolean>,
  budgetSeconds: number = ctx.env.gatewayWaitSeconds ?? GATEWAY_WAIT_BUDGET_S,
  options: ApplyOptions = { fromPool: true },
): Promise<ApplyResult> {
  try {
    const result = await keepApplying(request, ctx, stillWanted, budgetSeconds, options)
    if (result.heldBack) await raiseHeldBack(request.bridge, result.heldBack, ctx)
    return result
  } catch (error) {
    // Nobody called us to read the error: it goes where admins look, unless the VIF left.
    if (await stillWanted().catch(() => true)) await raiseBindFailure(request.bridge, error, ctx)
    throw error
  }
}

async function keepApplying(
  request: ApplyRequest,
  ctx: CallContext,
  stillWanted: () => Promise<boolean>,
  budgetSeconds: number,
  options: ApplyOptions,
): Promise<ApplyResult> {
  const deadline = Date.now() + budgetSeconds * 1000
  for (let attempt = 0; ; attempt++) {
    try {
      return await apply(request, ctx, options)
    } catch (error) {
      if (!isGatewayUnreachable(error)) throw error
      const delay = RETRY_DELAYS_S[Math.min(attempt, RETRY_DELAYS_S.length - 1)]!
      if (Date.now() + delay * 1000 > deadline || !(await stillWanted())) throw error
      ctx.log.log('warning', `gateway not answering yet, trying again in ${delay} s`, {
        bridge: request.bridge,
        error: error.message,
      })
      await sleep(delay * 1000)
      if (!(await stillWanted())) throw error
    }
  }
}

function isGatewayUnreachable(error: unknown): error is BinderError {
  return error instanceof BinderError && error.code === ErrorCode.GATEWAY_UNREACHABLE
}

/** The bridge's latest failure is the one shown: it supersedes the other kind. */
async function raiseBindFailure(bridge: string, error: unknown, ctx: CallContext): Promise<void> {
  const what = (error as Error)?.message ?? String(error)
  const gateway = isGatewayUnreachable(error)
  await clearAlerts(ctx, [gateway ? 'bind-failed' : 'gateway-unreachable'], bridge)
  await raiseAlert(ctx, {
    cause: gateway ? 'gateway-unreachable' : 'bind-failed',
    subject: bridge,
    body: gateway
      ? `bridge ${bridge}: the gateway never answered, so dom0 kept its previous default route: ${what}`
      : `bridge ${bridge} could not be bound, and dom0 may be out of reach on it: ${what}`,
  })
}

/** Nothing bound: the admin learns why where admins look, not only in this host's log. */
async function raiseHeldBack(bridge: string, why: string, ctx: CallContext): Promise<void> {
  const body = `bridge ${bridge} was left unbound, and dom0 may be out of reach on it: ${why}`
  await raiseAlert(ctx, { cause: 'held-back', subject: bridge, body })
}

/** Is this VIF plugged on this host right now (not as some earlier event said)? */
export async function vifAttachedHere(
  xapi: LocalXapi,
  vifRef: string,
  vmRef: string,
  hostRef: string,
): Promise<boolean> {
  const [attached, powerState, residentOn] = await Promise.all([
    xapi.call<boolean>('VIF.get_currently_attached', vifRef),
    xapi.call<string>('VM.get_power_state', vmRef),
    xapi.call<string>('VM.get_resident_on', vmRef),
  ])
  return attached && powerState === 'Running' && residentOn === hostRef
}
