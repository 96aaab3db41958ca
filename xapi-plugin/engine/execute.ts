// Runs plan steps against the kernel. Each step knows its inverse; when one fails, the
// steps this call already ran are undone in reverse order, so a failed call leaves the
// host as it found it.

import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { CommandError, defaultRouteArgs, runIp } from '../kernel/ip.ts'
import type { Logger } from '../runtime/log.ts'
import { writeSysctl } from '../kernel/sysctl.ts'
import type { DefaultRoute, Step } from '../../shared/results.ts'

const familyFlag = (family: 4 | 6) => (family === 4 ? '-4' : '-6')

function routeArgs(verb: string, step: { family: 4 | 6; destination: string; via?: string; dev: string }): string[] {
  const args = [familyFlag(step.family), 'route', verb, step.destination]
  if (step.via) args.push('via', step.via)
  args.push('dev', step.dev)
  return args
}

function removeDefaultArgs(route: DefaultRoute): string[] {
  return defaultRouteArgs(route).map(arg => (arg === 'replace' ? 'del' : arg))
}

// Removing what is already gone is success: release and convergence must be repeatable.
const ALREADY_GONE = /Cannot assign requested address|No such process|No such device|does not exist|Cannot find device/i

async function removeTolerantly(argv: string[]): Promise<void> {
  try {
    await runIp(argv)
  } catch (error) {
    if (!(error instanceof CommandError && ALREADY_GONE.test(error.details[1] ?? ''))) throw error
  }
}

export async function runStep(step: Step): Promise<void> {
  switch (step.action) {
    case 'link-up':
      return void (await runIp(['link', 'set', 'dev', step.dev, 'up']))
    case 'add-address':
      return void (await runIp(['addr', 'add', step.cidr, 'dev', step.dev]))
    case 'remove-address':
      return removeTolerantly(['addr', 'del', step.cidr, 'dev', step.dev])
    case 'add-route':
      return void (await runIp(routeArgs(step.replace ? 'replace' : 'add', step)))
    case 'remove-route':
      return removeTolerantly(routeArgs('del', step))
    case 'set-sysctl':
      return writeSysctl(step.path, step.value)
    case 'switch-default-route':
      return void (await runIp(defaultRouteArgs(step.to)))
    case 'remove-default-route':
      return removeTolerantly(removeDefaultArgs(step.route))
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
