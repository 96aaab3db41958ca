// status: what is recorded, what the kernel has, and the drift between them. The drift is
// exactly the plan an apply of the recorded arguments would run now, so "no drift" and
// "apply would change nothing" can never disagree.

import { BinderError } from '../../shared/errors.ts'
import { type ApplyRequest, type StatusRequest, parseApplyArgs } from '../../shared/plugin-args.ts'
import type { CallContext } from './context.ts'
import { describeDefaultRoute } from '../kernel/ip.ts'
import { defaultInUse, observe } from '../engine/observe.ts'
import { type KernelRead, readKernel } from '../kernel/ip-batch.ts'
import { planApply } from '../engine/plan.ts'
import { sysctlPathsFor } from '../engine/bridge-view.ts'
import type { BridgeRecord, BridgeStatus, StatusResult } from '../../shared/results.ts'
import { readPause } from '../runtime/pause-file.ts'
import { installedParts } from './installed-parts.ts'
import { workerRunning } from '../engine/confirmation.ts'
import { openAlerts } from '../engine/alerts.ts'
import { settle } from './confirm.ts'
import { firewallVifHealth } from './vif-health.ts'

async function bridgeStatus(
  bridge: string,
  record: BridgeRecord | undefined,
  desired: ApplyRequest | undefined,
  kernel: KernelRead,
): Promise<BridgeStatus> {
  const observed = await observe(bridge, desired?.management?.bridge, sysctlPathsFor(desired, record), kernel)
  const status: BridgeStatus = {
    recorded: record ?? null,
    kernel: {
      exists: !!observed.bridge,
      up: !!observed.bridge?.flags.includes('UP'),
      addresses: (observed.bridge?.addr_info ?? [])
        .filter(a => a.scope !== 'link')
        .map(a => `${a.local}/${a.prefixlen}`),
      defaultRoutes: {
        ipv4: describeDefaultRoute(defaultInUse(observed, 4)),
        ipv6: describeDefaultRoute(defaultInUse(observed, 6)),
      },
    },
    inSync: true,
    drift: [],
  }
  if (desired && record) {
    try {
      const plan = planApply(desired, observed, record, record.updatedAt)
      status.drift = [...plan.make, ...plan.break]
    } catch (error) {
      if (!(error instanceof BinderError)) throw error
      status.problem = error.message
    }
    status.inSync = status.drift.length === 0 && !status.problem
  }
  if (!observed.bridge) {
    // Nothing can be in sync on a bridge that is not there (xapi makes a private network's
    // bridge only while a VIF on it is plugged).
    status.problem = `bridge ${bridge} does not exist on this host${record ? ' (is the bound VM running here?)' : ''}`
    status.inSync = false
  }
  return status
}

export async function status(request: StatusRequest, ctx: CallContext): Promise<StatusResult> {
  await settle(ctx)
  const state = ctx.store.load()
  const names = request.bridge ? [request.bridge] : Object.keys(state.bridges)
  const records = names.map(name => state.bridges[name])
  const desired = records.map(record => (record ? parseApplyArgs(record.desired) : undefined))
  // One `ip` reads every bridge (and management bridge) at once.
  const devs = new Set(
    names.flatMap((name, i) => [name, ...(desired[i]?.management ? [desired[i].management.bridge] : [])]),
  )
  const kernel = devs.size ? await readKernel([...devs]) : undefined
  const bridges: Record<string, BridgeStatus> = {}
  for (const [i, name] of names.entries()) bridges[name] = await bridgeStatus(name, records[i], desired[i], kernel!)
  const paused = readPause(ctx.env.stateDir)
  return {
    bridges,
    ...(paused ? { paused } : {}),
    installed: installedParts(ctx.env.root),
    ...(request.firewallVifs === false ? {} : await firewallVifHealth(ctx)),
    ...(state.confirmation
      ? { confirmation: { ...state.confirmation, workerRunning: workerRunning(state.confirmation) } }
      : {}),
    ...(state.lastRevert ? { lastRevert: state.lastRevert } : {}),
    ...openAlerts(ctx.env.stateDir),
  }
}
