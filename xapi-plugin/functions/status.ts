// status: what is recorded, what the kernel has, and the drift between them. The drift is
// exactly the plan an apply of the recorded arguments would run now, so "no drift" and
// "apply would change nothing" can never disagree.

import { BinderError } from '../../shared/errors.ts'
import { type StatusRequest, parseApplyArgs } from '../../shared/plugin-args.ts'
import type { CallContext } from './context.ts'
import { describeDefaultRoute } from '../kernel/ip.ts'
import { defaultInUse, observe } from '../engine/observe.ts'
import { planApply } from '../engine/plan.ts'
import { sysctlPathsFor } from '../engine/bridge-view.ts'
import type { BridgeRecord, BridgeStatus, StatusResult } from '../../shared/results.ts'
import { readPause } from '../runtime/pause-file.ts'
import { installedParts } from './installed-parts.ts'
import { firewallVifHealth } from './vif-health.ts'

async function bridgeStatus(bridge: string, record: BridgeRecord | undefined): Promise<BridgeStatus> {
  const desired = record ? parseApplyArgs(record.desired) : undefined
  const observed = await observe(bridge, desired?.management?.bridge, sysctlPathsFor(desired, record))
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
  const state = ctx.store.load()
  const names = request.bridge ? [request.bridge] : Object.keys(state.bridges)
  const bridges: Record<string, BridgeStatus> = {}
  for (const name of names) bridges[name] = await bridgeStatus(name, state.bridges[name])
  const paused = readPause(ctx.env.stateDir)
  return {
    bridges,
    ...(paused ? { paused } : {}),
    installed: installedParts(ctx.env.root),
    ...(await firewallVifHealth(ctx)),
  }
}
