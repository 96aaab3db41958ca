// Running one host function, whoever asked: xapi (with its session) or a person.

import type { PluginArgs } from '../../shared/plugin-args.ts'
import { createContext } from '../functions/context.ts'
import { readTextOutput } from '../kernel/ip.ts'
import { environmentFrom } from '../runtime/environment.ts'
import { createLogger } from '../runtime/log.ts'
import { functions, localFunctions } from './function-table.ts'
import { type Outcome, errorDescriptionOf, unknownFunction } from './protocol.ts'

export function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise(resolve => stream.write(text, () => resolve()))
}

/** Every function a person can run on the host. */
export function handFunctionNames(): string[] {
  return Object.keys({ ...functions, ...localFunctions })
}

/** `byHand`: the failure is printed to the person anyway; log it only where it is kept. */
export async function call(
  fn: string,
  args: PluginArgs,
  session: string | undefined,
  byHand = false,
): Promise<Outcome> {
  const env = environmentFrom(process.env)
  if (env.ipTextOutput) readTextOutput()
  // Detached workers: nobody reads their stderr.
  const detached = fn === 'hotplug-worker' || fn === 'revert-worker'
  const log = createLogger(env.syslogSocket, undefined, detached ? env.logFile : undefined)
  try {
    const registry = byHand ? { ...functions, ...localFunctions } : functions
    const handler = Object.hasOwn(registry, fn) ? registry[fn] : undefined
    if (!handler) return { ok: false, errorDescription: unknownFunction(fn) }
    const value = await handler(args, createContext(env, log, session))
    return { ok: true, value }
  } catch (error) {
    const errorDescription = errorDescriptionOf(fn, error)
    if (!(byHand && log.target === 'stderr')) log.log('err', `${fn} failed`, { error: errorDescription })
    return { ok: false, errorDescription }
  } finally {
    await log.close()
  }
}
