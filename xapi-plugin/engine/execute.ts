// Runs plan steps against the kernel. Each step knows its inverse; when one fails, the
// steps this call already ran are undone in reverse order, so a failed call leaves the
// host as it found it.

import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Family } from '../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import {
  CommandError,
  defaultRouteArgs,
  defaultRoutesOf,
  familyFlag,
  readLink,
  readRoutes,
  runIp,
  sameDefaultRoute,
} from '../kernel/ip.ts'
import { hasCidr, routeDestination } from './observe.ts'
import { runIpBatch } from '../kernel/ip-batch.ts'
import type { Logger } from '../runtime/log.ts'
import { writeSysctl } from '../kernel/sysctl.ts'
import type { DefaultRoute, Step } from '../../shared/results.ts'

function routeArgs(verb: string, step: { family: Family; destination: string; via?: string; dev: string }): string[] {
  const args = [familyFlag(step.family), 'route', verb, step.destination]
  if (step.via) args.push('via', step.via)
  args.push('dev', step.dev)
  return args
}

function removeDefaultArgs(route: DefaultRoute): string[] {
  return defaultRouteArgs(route).map(arg => (arg === 'replace' ? 'del' : arg))
}

// Removing what is already gone is success: release and convergence must be repeatable.
// Whether it is gone is asked of the kernel again, not read from ip's error text, which
// glibc translates into the admin's language.
async function removeTolerantly(argv: string[], stillThere: () => Promise<boolean>): Promise<void> {
  try {
    await runIp(argv)
  } catch (error) {
    if (!(error instanceof CommandError) || (await stillThere())) throw error
  }
}

const addressPresent = async (dev: string, cidr: string) => hasCidr(await readLink(dev), cidr)

async function routePresent(step: Extract<Step, { action: 'remove-route' }>): Promise<boolean> {
  const routes = await readRoutes(step.family)
  return routes.some(
    r => routeDestination(r, step.family) === step.destination && r.dev === step.dev && r.gateway === step.via,
  )
}

async function defaultRoutePresent(route: DefaultRoute): Promise<boolean> {
  return defaultRoutesOf(await readRoutes(route.family), route.family).some(d => sameDefaultRoute(d, route))
}

/** Whether what a removal step removes is still in the kernel. */
function stillThere(step: Step): Promise<boolean> {
  switch (step.action) {
    case 'remove-address':
      return addressPresent(step.dev, step.cidr)
    case 'remove-route':
      return routePresent(step)
    case 'remove-default-route':
      return defaultRoutePresent(step.route)
    default:
      return Promise.resolve(true)
  }
}

const isRemoval = (step: Step) =>
  step.action === 'remove-address' || step.action === 'remove-route' || step.action === 'remove-default-route'

/** The `ip` words of a step, or undefined for a sysctl (a file, not ip's). */
function ipArgsOf(step: Step): string[] | undefined {
  switch (step.action) {
    case 'link-up':
      return ['link', 'set', 'dev', step.dev, 'up']
    case 'add-address':
      return ['addr', 'add', step.cidr, 'dev', step.dev]
    case 'remove-address':
      return ['addr', 'del', step.cidr, 'dev', step.dev]
    case 'add-route':
      return routeArgs(step.replace ? 'replace' : 'add', step)
    case 'remove-route':
      return routeArgs('del', step)
    case 'switch-default-route':
      return defaultRouteArgs(step.to)
    case 'remove-default-route':
      return removeDefaultArgs(step.route)
    case 'set-sysctl':
      return undefined
  }
}

/**
 * An interface's sysctls go with it: when the bridge vanished (its last VIF unplugged) between
 * the kernel read and this write, there is nothing left to set or to give back.
 */
async function writeSysctlStep(step: Extract<Step, { action: 'set-sysctl' }>): Promise<void> {
  try {
    await writeSysctl(step.path, step.value)
  } catch (error) {
    if (existsSync(dirname(step.path))) throw error
  }
}

export async function runStep(step: Step): Promise<void> {
  if (step.action === 'set-sysctl') return writeSysctlStep(step)
  const argv = ipArgsOf(step)!
  if (isRemoval(step)) return removeTolerantly(argv, () => stillThere(step))
  await runIp(argv)
}

/** The step that puts back what `step` changed, as it was observed before the call. */
export function inverseOf(step: Step): Step | undefined {
  switch (step.action) {
    case 'link-up':
      return undefined // a bridge left up harms nothing, and xapi wants it up anyway
    case 'add-address':
      return { action: 'remove-address', dev: step.dev, cidr: step.cidr }
    case 'remove-address':
      return { action: 'add-address', dev: step.dev, cidr: step.cidr }
    case 'add-route':
      if (!step.replace)
        return {
          action: 'remove-route',
          family: step.family,
          destination: step.destination,
          via: step.via,
          dev: step.dev,
        }
      return step.previous && { ...step, via: step.previous.via, dev: step.previous.dev, previous: undefined }
    case 'remove-route':
      return {
        action: 'add-route',
        family: step.family,
        destination: step.destination,
        via: step.via,
        dev: step.dev,
        replace: false,
      }
    case 'set-sysctl':
      return { action: 'set-sysctl', path: step.path, value: step.previous, previous: step.value }
    case 'switch-default-route':
      return step.from
        ? { action: 'switch-default-route', family: step.family, to: step.from, from: step.to, description: 'undo' }
        : { action: 'remove-default-route', family: step.family, route: step.to, description: 'undo' }
    case 'remove-default-route':
      return { action: 'switch-default-route', family: step.family, to: step.route, from: null, description: 'undo' }
  }
}

export async function undoSteps(done: Step[], log: Logger): Promise<void> {
  for (const step of [...done].reverse()) {
    const inverse = inverseOf(step)
    if (!inverse) continue
    try {
      await runStep(inverse)
    } catch (error) {
      log.log('err', 'undo step failed', { step: inverse, error: (error as Error).message })
    }
  }
}

function failed(step: Step, error: unknown): BinderError {
  if (error instanceof BinderError) return error
  return new BinderError(ErrorCode.COMMAND_FAILED, `${step.action} failed: ${(error as Error).message}`, [step.action])
}

const isSysctl = (step: Step) => step.action === 'set-sysctl'

interface Owned {
  step: Step
  /** The group (the bridge) the step belongs to. */
  group: number
}

/**
 * Runs the `ip` steps of every group in one `ip -batch` process, in order. Removing what is
 * already gone counts as done (release and convergence must be repeatable; gone is asked of
 * the kernel). A step that fails gives up its group alone: `fail` undoes what that group did,
 * and the batch goes on with the next group's steps.
 */
async function runIpSteps(
  steps: Owned[],
  done: Step[][],
  fail: (owned: Owned, error: BinderError) => Promise<void>,
): Promise<void> {
  const givenUp = new Set<number>()
  let rest = steps
  while (rest.length) {
    const commands = rest.map(({ step }) => ipArgsOf(step)!)
    const { done: count, failure } = await runIpBatch(commands)
    for (const { step, group } of rest.slice(0, count)) done[group]!.push(step)
    if (!failure) return
    const owned = rest[failure.index]!
    if (isRemoval(owned.step) && !(await stillThere(owned.step))) done[owned.group]!.push(owned.step)
    else {
      givenUp.add(owned.group)
      await fail(owned, failed(owned.step, new CommandError(commands[failure.index]!, failure.message)))
    }
    rest = rest.slice(failure.index + 1).filter(({ group }) => !givenUp.has(group))
  }
}

/**
 * Runs several groups of steps (one per bridge) as if each ran alone through runSteps, at
 * the cost of one `ip` process for all: the sysctls (files) of each group first, then every
 * group's `ip` steps in one batch. A group whose step fails is undone alone (its steps that
 * ran, in reverse order) and gets that error; the other groups go on. Returns each group's
 * error, or undefined where every step ran.
 */
export async function runStepGroups(groups: Step[][], log: Logger): Promise<(BinderError | undefined)[]> {
  const done: Step[][] = groups.map(() => [])
  const errors: (BinderError | undefined)[] = groups.map(() => undefined)
  const fail = async ({ step, group }: Owned, error: BinderError) => {
    log.log('err', 'step failed, undoing what this bridge did in this call', { step, error: error.message })
    await undoSteps(done[group]!, log)
    errors[group] = error
  }
  for (const [group, steps] of groups.entries()) {
    for (const step of steps.filter(isSysctl)) {
      try {
        await runStep(step)
        done[group]!.push(step)
      } catch (error) {
        await fail({ step, group }, failed(step, error))
        break
      }
    }
  }
  const ipSteps = groups.flatMap((steps, group) =>
    errors[group] ? [] : steps.filter(step => !isSysctl(step)).map(step => ({ step, group })),
  )
  await runIpSteps(ipSteps, done, fail)
  return errors
}

/**
 * Runs steps; on failure undoes the ones that ran and rethrows. The sysctls (files) go
 * first, then every `ip` step in one process: the bridge exists before a plan is made, so
 * its sysctls need not wait for its addresses, and a call costs one `ip` however many
 * steps it has.
 */
export async function runSteps(steps: Step[], log: Logger): Promise<void> {
  const [error] = await runStepGroups([steps], log)
  if (error) throw error
}
