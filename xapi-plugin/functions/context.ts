import type { Environment } from '../runtime/environment.ts'
import type { Logger } from '../runtime/log.ts'
import { StateStore } from '../engine/state.ts'

/** What every function gets: where things live, where to log, the caller's session. */
export interface CallContext {
  env: Environment
  log: Logger
  store: StateStore
  /** The xapi session ref the caller passed (params[0]); absent when run by hand. */
  session?: string
}

export function createContext(env: Environment, log: Logger, session?: string): CallContext {
  return { env, log, store: new StateStore(env.stateDir, log), session }
}
