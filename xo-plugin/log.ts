// The logger every module receives. In xo-server it is `@xen-orchestra/log`'s, whose
// output xo-server routes; tests pass a recorder.

import { createLogger } from '@xen-orchestra/log'

export type LogData = Record<string, unknown>

export interface Logger {
  debug(message: string, data?: LogData): void
  info(message: string, data?: LogData): void
  warn(message: string, data?: LogData): void
  error(message: string, data?: LogData): void
}

export const LOG_NAMESPACE = 'xo:xo-server-vif-ip-binder'

export function pluginLogger(): Logger {
  return createLogger(LOG_NAMESPACE)
}

/** Logs a given problem once per key (a host without the plugin must not flood the log). */
export class OnceLogger {
  private readonly seen = new Set<string>()
  constructor(private readonly log: Logger) {}

  warn(key: string, message: string, data?: LogData): boolean {
    if (this.seen.has(key)) return false
    this.seen.add(key)
    this.log.warn(message, data)
    return true
  }

  forget(key: string): void {
    this.seen.delete(key)
  }
}
