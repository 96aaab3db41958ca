// One round of a batch apply: the stages every bridge of the round goes through together,
// each a single `ip` process for all of them. Make (everything but the default route
// switches that must wait for their gateway), ask every new gateway at once, switch to
// those that answered (undo the switches made at once to those that did not), then break
// what is no longer wanted. A bridge that fails at a stage is undone alone and leaves the
// round; the others go on. One state save at the end.

import { restartWindow } from '../engine/confirmation.ts'
import { runStepGroups, undoSteps } from '../engine/execute.ts'
import type { State } from '../engine/state.ts'
import type { Job, Outcome } from './apply-batch.ts'
import {
  type Checked,
  checkGateways,
  keepDefaultRoutes,
  switchesAtOnce,
  switchesOf,
  wayOut,
  withoutLaterSwitches,
  writeIntents,
} from './apply-steps.ts'
import type { CallContext } from './context.ts'

/** A bridge with a switch to verify; the others switch in the make batch, after their other steps. */
const checksFirst = (job: Job) => job.request.gatewayCheckSeconds > 0 && switchesOf(job.plan.make).length > 0

const atOnceOf = (job: Job) => switchesAtOnce(job.plan.make, job.observed, job.previousRecord)

/** What the make batch runs for the bridge: all of its make steps but the switches that wait for their gateway. */
const firstBatchOf = (job: Job) =>
  checksFirst(job) ? withoutLaterSwitches(job.plan.make, atOnceOf(job)) : job.plan.make

class Round {
  constructor(
    private readonly state: State,
    private readonly ctx: CallContext,
    private readonly outcomes: Outcome[],
  ) {}

  /** The bridge's apply fails; `restore`: its record goes back to what it was before the call. */
  fail(job: Job, error: unknown, restore: boolean): void {
    const { bridge } = job.request
    if (restore && job.previousRecord) this.state.bridges[bridge] = job.previousRecord
    else if (restore) delete this.state.bridges[bridge]
    this.outcomes[job.index] = { ok: false, error }
  }

  /** Everything but the switches that wait for their gateway. Returns the bridges still going. */
  async make(jobs: Job[]): Promise<Job[]> {
    const errors = await runStepGroups(jobs.map(firstBatchOf), this.ctx.log)
    jobs.forEach((job, i) => errors[i] && this.fail(job, errors[i], true))
    return jobs.filter((_, i) => !errors[i])
  }

  /**
   * A default route that displaces one switches only to a gateway that answered on its
   * bridge. Everything before a switch made the gateway reachable there, so it is asked
   * before any such route points at it: a firewall still booting never takes the place of
   * a route in use. The switches made at once are checked the same way.
   */
  async switch(made: Job[]): Promise<Job[]> {
    const jobs = made.filter(checksFirst)
    const checks = await Promise.all(jobs.map(job => checkGateways(job.request, switchesOf(job.plan.make))))
    const answered = jobs.map((job, i) => {
      job.result.gatewayChecks = checks[i]!
      const silent = (family: number) => checks[i]!.some(c => c.family === family && !c.reachable)
      const atOnce = atOnceOf(job)
      return switchesOf(job.plan.make).filter(s => !atOnce.includes(s) && !silent(s.family))
    })
    const errors = await runStepGroups(answered, this.ctx.log)
    for (const [i, job] of jobs.entries()) {
      if (!errors[i]) continue
      await undoSteps(firstBatchOf(job), this.ctx.log)
      this.fail(job, errors[i], true)
    }
    const switched = await this.silent(jobs.filter((_, i) => !errors[i]))
    return made.filter(job => !checksFirst(job) || switched.includes(job))
  }

  /** Bridges whose gateway did not answer keep their default routes (those switched at once undone) and fail. */
  private async silent(jobs: Job[]): Promise<Job[]> {
    const silentOf = (job: Job): Checked[] => job.result.gatewayChecks.filter(c => !c.reachable)
    const failing = jobs.filter(job => silentOf(job).length)
    const ways = failing.map(job => wayOut(atOnceOf(job), silentOf(job)))
    const errors = await runStepGroups(ways, this.ctx.log)
    failing.forEach((job, i) => {
      const error = errors[i] ?? keepDefaultRoutes(silentOf(job), job.plan, job.record, this.state, this.ctx.log)
      this.fail(job, error, false)
    })
    return jobs.filter(job => !failing.includes(job))
  }

  /**
   * What is no longer wanted goes once the rest is in place. If a removal fails, what was
   * added stays in place and owned (the intent is the record); the next apply retries it.
   */
  async break(jobs: Job[]): Promise<void> {
    const errors = await runStepGroups(
      jobs.map(job => job.plan.break),
      this.ctx.log,
    )
    for (const [i, job] of jobs.entries()) {
      if (errors[i]) {
        this.fail(job, errors[i], false)
        continue
      }
      this.state.bridges[job.request.bridge] = job.plan.final
      // The window starts again now that the change is in place and verified.
      const { confirmation } = job.result
      if (confirmation) job.result.confirmation = restartWindow(this.state, confirmation)
      this.outcomes[job.index] = { ok: true, result: job.result }
      const changes = job.result.changes.length
      if (changes) this.ctx.log.log('info', 'applied', { bridge: job.request.bridge, changes })
    }
  }
}

/** Runs a round's plans (the caller holds the host lock), filling in their outcomes. */
export async function runRound(
  jobs: Job[],
  state: State,
  ctx: CallContext,
  confirmSeconds: number,
  outcomes: Outcome[],
): Promise<void> {
  for (const job of jobs) if (job.request.dryRun) outcomes[job.index] = { ok: true, result: job.result }
  const live = jobs.filter(job => !job.request.dryRun)
  if (live.length === 0) return
  await writeIntents(live, state, ctx, confirmSeconds)
  const round = new Round(state, ctx, outcomes)
  try {
    await round.break(await round.switch(await round.make(live)))
  } finally {
    ctx.store.save(state)
  }
}
