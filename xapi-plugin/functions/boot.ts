// boot mode: run by the systemd unit after xapi starts. Waits (bounded) for the local xapi
// to accept a login, then rescues the host if the pool's configuration opts in, then
// reconciles: a rebooted host recovers with nobody, and no Xen Orchestra, around.
// The rescue starts the firewall VM, whose VIF plug runs the vif-hotplug hook; reconcile
// then finds it bound already (or binds it, if the hook is not installed).

import { setTimeout as sleep } from 'node:timers/promises'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import type { CallContext } from './context.ts'
import { LocalXapi } from '../xapi/local-xapi.ts'
import { GATEWAY_WAIT_BUDGET_S } from './apply-until.ts'
import { reconcile } from './reconcile.ts'
import { rescue } from './rescue.ts'
import { revertAtBoot } from './confirm.ts'
import type { BootResult } from '../../shared/results.ts'
import { DEFAULT_PLUG_TIMEOUT_SECONDS } from '../../shared/plugin-args.ts'
import { describePause } from '../../shared/pause.ts'
import { readPause } from '../runtime/pause-file.ts'
import { inventoryHostUuid } from '../xapi/local-xapi.ts'

export const DEFAULT_BOOT_WAIT_SECONDS = 600
/**
 * The boot unit's start time-out: the wait for xapi, then a gateway that answers at the
 * very end of the hook's retry budget, then the SRs' plug time-out, with room to spare.
 */
export const BOOT_START_TIMEOUT_SECONDS =
  DEFAULT_BOOT_WAIT_SECONDS + GATEWAY_WAIT_BUDGET_S + DEFAULT_PLUG_TIMEOUT_SECONDS + 300

export async function waitForXapi(root: string, seconds: number): Promise<number> {
  const started = Date.now()
  let lastError = ''
  while (Date.now() - started < seconds * 1000) {
    try {
      const xapi = await LocalXapi.connect(root)
      await xapi.close()
      return Date.now() - started
    } catch (error) {
      lastError = (error as Error).message
      await sleep(1000)
    }
  }
  throw new BinderError(
    ErrorCode.XAPI_UNREACHABLE,
    `the local xapi did not accept a login within ${seconds} s: ${lastError}`,
    [],
  )
}

/** A paused host boots without the automation: nothing waited for, nothing changed. */
function pausedBoot(ctx: CallContext): BootResult | undefined {
  const paused = readPause(ctx.env.stateDir)
  if (!paused) return undefined
  ctx.log.log('warning', `boot: ${describePause(paused)}: nothing done`)
  const host = inventoryHostUuid(ctx.env.root)
  return {
    waitedMs: 0,
    paused,
    rescue: { host, case: 'paused', acted: false, reason: describePause(paused), steps: [] },
    reconcile: { host, configured: false, paused, applied: [], released: [], srs: [] },
  }
}

export async function boot(waitSeconds: number, ctx: CallContext): Promise<BootResult> {
  // First, paused or not: the reboot ended the window of an unconfirmed change, and what it
  // recorded must not be taken for what the host holds.
  // A busy lock does not stop boot: the rescue and the binding matter more than the order.
  const reverted = await revertAtBoot(ctx)
  const paused = pausedBoot(ctx)
  if (paused) return { ...paused, ...reverted }
  const waitedMs = await waitForXapi(ctx.env.root, waitSeconds)
  ctx.log.log('info', 'boot: xapi answers', { waitedMs })
  const rescued = await rescue(ctx)
  if (rescued.acted) ctx.log.log('warning', `boot: rescue: ${rescued.reason}`, { steps: rescued.steps })
  return { waitedMs, ...reverted, rescue: rescued, reconcile: await reconcile(ctx) }
}
