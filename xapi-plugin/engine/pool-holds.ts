// A revert's hold made pool-wide (shared/pool-holds.ts): the firewall VM may start next on
// another host, whose hook knows nothing of this host's state. Best effort, like an alert: a
// revert never fails for it, and the log says when it could not be recorded.

import { withLocalXapi, thisHost } from '../xapi/local-xapi.ts'
import { type BridgeChange, liftConfirmedHolds, recordPoolHolds, refreshOtherHosts } from '../xapi/pool-holds.ts'
import type { AlertContext } from './alerts.ts'
import type { RevertContext } from './confirmation.ts'
import { withHostLock } from './lock.ts'

/** Records the holds; false when xapi could not be asked (the caller keeps them to try again). */
export async function holdPoolWide(ctx: AlertContext, reverted: BridgeChange[]): Promise<boolean> {
  if (reverted.length === 0) return true
  const bridges = reverted.map(r => r.bridge)
  try {
    await withLocalXapi(ctx.env.root, ctx.session, async xapi => {
      const host = await thisHost(ctx.env.root, xapi)
      const networks = await recordPoolHolds(xapi, host, reverted)
      if (networks.length === 0) return
      ctx.log.log('warning', 'reverted change held back on every host of the pool', { bridges, networks })
      const failed = await refreshOtherHosts(xapi, host)
      if (failed.length)
        ctx.log.log('warning', 'hosts not asked to refresh their hook index: theirs expires within 10 minutes', {
          failed,
        })
    })
    return true
  } catch (error) {
    ctx.log.log('warning', 'the reverted change could not be held back on the other hosts of the pool yet', {
      bridges,
      error: (error as Error).message,
    })
    return false
  }
}

/** A confirmed window: the pool-wide holds on what it kept are lifted. Best effort. */
export async function liftPoolWide(ctx: AlertContext, kept: BridgeChange[]): Promise<void> {
  if (kept.length === 0) return
  try {
    await withLocalXapi(ctx.env.root, ctx.session, async xapi => {
      const lifted = await liftConfirmedHolds(xapi, await thisHost(ctx.env.root, xapi), kept)
      if (lifted.length) ctx.log.log('info', 'pool-wide holds lifted: their arguments were confirmed', { lifted })
    })
  } catch (error) {
    ctx.log.log('warning', 'pool-wide holds on the confirmed change could not be lifted', {
      bridges: kept.map(k => k.bridge),
      error: (error as Error).message,
    })
  }
}

/**
 * Reverts whose hold could not be recorded pool-wide then (a revert at boot runs before xapi
 * is up): recorded now, by reconcile (boot's too, once xapi answers). Best effort.
 */
export async function recordPendingHolds(ctx: RevertContext): Promise<void> {
  if (!ctx.store.load().poolHoldsPending?.length) return
  try {
    await withHostLock(ctx.env.lockPath, ctx.env.lockWaitSeconds, async () => {
      const state = ctx.store.load()
      if (!state.poolHoldsPending?.length || !(await holdPoolWide(ctx, state.poolHoldsPending))) return
      delete state.poolHoldsPending
      ctx.store.save(state)
    })
  } catch (error) {
    ctx.log.log('warning', 'pending pool-wide holds not recorded yet', { error: (error as Error).message })
  }
}
