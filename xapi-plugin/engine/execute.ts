// Runs plan steps against the kernel. Each step knows its inverse; when one fails, the
// steps this call already ran are undone in reverse order, so a failed call leaves the
// host as it found it.

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

export async function runStep(step: Step): Promise<void> {
  switch (step.action) {
    case 'link-up':
      return void (await runIp(['link', 'set', 'dev', step.dev, 'up']))
    case 'add-address':
      return void (await runIp(['addr', 'add', step.cidr, 'dev', step.dev]))
    case 'remove-address':
      return removeTolerantly(['addr', 'del', step.cidr, 'dev', step.dev], () => addressPresent(step.dev, step.cidr))
    case 'add-route':
      return void (await runIp(routeArgs(step.replace ? 'replace' : 'add', step)))
    case 'remove-route':
      return removeTolerantly(routeArgs('del', step), () => routePresent(step))
    case 'set-sysctl':
      return writeSysctl(step.path, step.value)
    case 'switch-default-route':
      return void (await runIp(defaultRouteArgs(step.to)))
    case 'remove-default-route':
      return removeTolerantly(removeDefaultArgs(step.route), () => defaultRoutePresent(step.route))
  }
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
      return step.replace
        ? undefined
        : { action: 'remove-route', family: step.family, destination: step.destination, via: step.via, dev: step.dev }
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

/** Runs steps in order; on failure undoes the ones that ran and rethrows. */
export async function runSteps(steps: Step[], log: Logger): Promise<void> {
  const done: Step[] = []
  for (const step of steps) {
    try {
      await runStep(step)
      done.push(step)
    } catch (error) {
      log.log('err', 'step failed, undoing this call', { step, error: (error as Error).message })
      await undoSteps(done, log)
      if (error instanceof BinderError) throw error
      throw new BinderError(ErrorCode.COMMAND_FAILED, `${step.action} failed: ${(error as Error).message}`, [
        step.action,
      ])
    }
  }
}
