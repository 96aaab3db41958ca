// status: what is recorded, what the kernel has, and the drift between them. The drift is
// exactly the plan an apply of the recorded arguments would run now, so "no drift" and
// "apply would change nothing" can never disagree.

import { BinderError } from '../shared/errors.ts'
import { type StatusRequest, parseApplyArgs } from '../shared/plugin-args.ts'
import { sysctlPathsFor } from './apply.ts'
import type { CallContext } from './context.ts'
import { describeDefaultRoute } from './ip.ts'
import { defaultInUse, observe } from './observe.ts'
import { type Step, planApply } from './plan.ts'
import { type BridgeRecord, emptyRecord } from './state.ts'

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

async function bridgeStatus(bridge: string, record: BridgeRecord | undefined): Promise<BridgeStatus> {
  const desired = record ? parseApplyArgs(record.desired) : undefined
  const observed = await observe(bridge, desired?.management?.bridge, sysctlPathsFor(desired, record ?? emptyRecord(bridge)))
  const status: BridgeStatus = {
    recorded: record ?? null,
    kernel: {
      exists: !!observed.bridge,
      up: !!observed.bridge?.flags.includes('UP'),
      addresses: (observed.bridge?.addr_info ?? []).filter(a => a.scope !== 'link').map(a => `${a.local}/${a.prefixlen}`),
      defaultRoutes: { ipv4: describeDefaultRoute(defaultInUse(observed, 4)), ipv6: describeDefaultRoute(defaultInUse(observed, 6)) },
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
  return status
}

export async function status(request: StatusRequest, ctx: CallContext): Promise<{ bridges: Record<string, BridgeStatus> }> {
  const state = ctx.store.load()
  const names = request.bridge ? [request.bridge] : Object.keys(state.bridges)
  const bridges: Record<string, BridgeStatus> = {}
  for (const name of names) bridges[name] = await bridgeStatus(name, state.bridges[name])
  return { bridges }
}
