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

/**
 * Runs `ip` steps in one `ip -batch` process, in order. Removing what is already gone
 * counts as done (release and convergence must be repeatable; gone is asked of the kernel):
 * the batch goes on from the next line. Returns the steps done and, if one failed, its error.
 */
async function runIpSteps(steps: Step[]): Promise<{ done: Step[]; error?: BinderError }> {
  const done: Step[] = []
  let rest = steps
  while (rest.length) {
    const commands = rest.map(step => ipArgsOf(step)!)
    const { done: count, failure } = await runIpBatch(commands)
    done.push(...rest.slice(0, count))
    if (!failure) break
    const step = rest[failure.index]!
    if (!isRemoval(step) || (await stillThere(step))) {
      return { done, error: failed(step, new CommandError(commands[failure.index]!, failure.message)) }
    }
    done.push(step)
    rest = rest.slice(failure.index + 1)
  }
  return { done }
}

/**
 * Runs steps; on failure undoes the ones that ran and rethrows. The sysctls (files) go
 * first, then every `ip` step in one process: the bridge exists before a plan is made, so
 * its sysctls need not wait for its addresses, and a call costs one `ip` however many
 * steps it has.
 */
export async function runSteps(steps: Step[], log: Logger): Promise<void> {
  const done: Step[] = []
  const giveUp = async (step: Step, error: BinderError): Promise<never> => {
    log.log('err', 'step failed, undoing this call', { step, error: error.message })
    await undoSteps(done, log)
    throw error
  }
  for (const step of steps.filter(s => s.action === 'set-sysctl')) {
    try {
      await runStep(step)
      done.push(step)
    } catch (error) {
      await giveUp(step, failed(step, error))
    }
  }
  const ipSteps = steps.filter(s => s.action !== 'set-sysctl')
  const result = await runIpSteps(ipSteps)
  done.push(...result.done)
  if (result.error) await giveUp(ipSteps[result.done.length]!, result.error)
}
