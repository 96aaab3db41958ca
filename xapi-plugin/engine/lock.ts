// One writer per host. The lock is a kernel flock on a file under /var/run: the kernel
// releases it with the last descriptor of a call that dies, so there is never a stale lock.
//
// Under Bun (the compiled executable) flock(2) is called in-process through bun:ffi: no
// process to spawn. Elsewhere (Node running the sources in tests), or if libc cannot be
// opened, util-linux's `flock` locks the open file description we hand it as fd 3, which
// stays ours after it exits. Both take the same lock, so the two can share a host.

import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { BinderError, ErrorCode } from '../../shared/errors.ts'

const LOCK_EX = 2
const LOCK_NB = 4
const EWOULDBLOCK = 11
const EINTR = 4
const POLL_MS = 5

interface Libc {
  /** 0, or the errno of a failure. */
  tryLock(fd: number): number
}

interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown> }
  read: { i32(pointer: unknown, offset?: number): number }
}

let libc: Promise<Libc | undefined> | undefined

async function openLibc(): Promise<Libc | undefined> {
  if (!('Bun' in globalThis)) return undefined
  try {
    const specifier = 'bun:ffi'
    const ffi = (await import(specifier)) as BunFfi
    const { symbols } = ffi.dlopen('libc.so.6', {
      flock: { args: ['i32', 'i32'], returns: 'i32' },
      __errno_location: { args: [], returns: 'ptr' },
    })
    return {
      tryLock: fd => (symbols.flock!(fd, LOCK_EX | LOCK_NB) === 0 ? 0 : ffi.read.i32(symbols.__errno_location!())),
    }
  } catch {
    return undefined
  }
}

/** Takes the lock on `fd` within `waitSeconds`: true, false (held by another), or undefined (cannot try here). */
async function lockInProcess(fd: number, waitSeconds: number): Promise<boolean | undefined> {
  const lib = await (libc ??= openLibc())
  if (!lib) return undefined
  const deadline = Date.now() + waitSeconds * 1000
  for (;;) {
    const errno = lib.tryLock(fd)
    if (errno === 0) return true
    if (errno !== EWOULDBLOCK && errno !== EINTR) return undefined
    if (Date.now() >= deadline) return false
    await sleep(POLL_MS)
  }
}

function lockWithProcess(fd: number, waitSeconds: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '--wait', String(waitSeconds), '3'], {
      stdio: ['ignore', 'ignore', 'ignore', fd],
    })
    child.once('error', reject)
    child.once('exit', code => resolve(code === 0))
  })
}

export async function withHostLock<T>(lockPath: string, waitSeconds: number, body: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(lockPath), { recursive: true })
  const fd = openSync(lockPath, 'a')
  try {
    const locked = (await lockInProcess(fd, waitSeconds)) ?? (await lockWithProcess(fd, waitSeconds))
    if (!locked) {
      throw new BinderError(
        ErrorCode.BUSY,
        `another vif-ip-binder call held ${lockPath} for more than ${waitSeconds} s; try again`,
        [lockPath],
      )
    }
    return await body()
  } finally {
    closeSync(fd)
  }
}
