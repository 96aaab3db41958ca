// release: give back exactly what apply recorded for a bridge, which may already be gone
// (xapi destroys a PIF-less bridge with its last VIF, and the kernel drops its addresses
// and the default route through it).

import type { ReleaseRequest } from '../shared/plugin-args.ts'
import { sysctlPathsFor } from './apply.ts'
import type { CallContext } from './context.ts'
import { runSteps } from './execute.ts'
import { withHostLock } from './lock.ts'
import { observe } from './observe.ts'
import { type Step, planRelease } from './plan.ts'

export interface ReleaseResult {
  bridge: string
  dryRun: boolean
  /** False when nothing was recorded for this bridge (a no-op, not an error). */
  released: boolean
  changes: Step[]
}

export async function release(request: ReleaseRequest, ctx: CallContext): Promise<ReleaseResult> {
  const { log, store, env } = ctx
  return withHostLock(env.lockPath, env.lockWaitSeconds, async () => {
    const state = store.load()
    const record = state.bridges[request.bridge]
    if (!record) return { bridge: request.bridge, dryRun: request.dryRun, released: false, changes: [] }
    const observed = await observe(request.bridge, record.mirrors[0]?.dev, sysctlPathsFor(undefined, record))
    const steps = planRelease(record, observed)
    if (request.dryRun) return { bridge: request.bridge, dryRun: true, released: false, changes: steps }
    await runSteps(steps, log)
    delete state.bridges[request.bridge]
    store.save(state)
    log.log('info', 'released', { bridge: request.bridge, changes: steps.length })
    return { bridge: request.bridge, dryRun: false, released: true, changes: steps }
  })
}
