// Logging for the host plugin. In plugin mode stdout IS the XML-RPC answer, so nothing is
// ever logged there: lines go to syslog when dom0 has one (/dev/log), else to stderr,
// which xapi keeps and returns with a failed call.
//
// Node and Bun cannot write unix datagrams, so syslog goes through one `logger` process
// per call that reads our lines from a pipe (util-linux's logger is in every dom0).

import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync, mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

export type Level = 'info' | 'warning' | 'err'

export interface Logger {
  /** Where lines go: syslog, or else a file or stderr. */
  readonly target: 'syslog' | 'file' | 'stderr'
  log(level: Level, message: string, fields?: Record<string, unknown>): void
  close(): Promise<void>
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket()
  } catch {
    return false
  }
}

function format(level: Level, message: string, fields?: Record<string, unknown>): string {
  const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : ''
  return `${level}: ${message}${extra}`.replace(/\n/g, ' ')
}

/**
 * `fallbackFile`: where a detached process (whose stderr nobody reads) writes when there
 * is no syslog, as XCP-ng's own plugins keep /var/log/<name>-plugin.log.
 */
export function createLogger(syslogSocket: string, tag = 'vif-ip-binder', fallbackFile?: string): Logger {
  if (!isSocket(syslogSocket) && fallbackFile) {
    return {
      target: 'file',
      log: (level, message, fields) => {
        try {
          mkdirSync(dirname(fallbackFile), { recursive: true })
          appendFileSync(
            fallbackFile,
            `${new Date().toISOString()} ${tag}[${process.pid}]: ${format(level, message, fields)}\n`,
          )
        } catch {
          // nowhere left to report to
        }
      },
      close: async () => {},
    }
  }
  if (!isSocket(syslogSocket)) {
    return {
      target: 'stderr',
      log: (level, message, fields) => void process.stderr.write(`${tag}: ${format(level, message, fields)}\n`),
      close: async () => {},
    }
  }
  let logger: ChildProcess | undefined
  const stream = () => {
    logger ??= spawn('logger', ['-t', `${tag}[${process.pid}]`, '-p', 'daemon.info', '-u', syslogSocket], {
      stdio: ['pipe', 'ignore', 'ignore'],
    })
    return logger
  }
  return {
    target: 'syslog',
    log(level, message, fields) {
      stream().stdin?.write(format(level, message, fields) + '\n')
    },
    close: () =>
      new Promise(resolve => {
        if (!logger) return resolve()
        logger.once('exit', () => resolve())
        logger.once('error', () => resolve())
        logger.stdin?.end()
      }),
  }
}
