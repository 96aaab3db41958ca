// One writer per host. The lock is a kernel flock on a file under /var/run, so a call that
// is killed releases it with its last file descriptor and never leaves a stale lock.
//
// Neither Node nor Bun exposes flock(2); util-linux's `flock` (present in every dom0)
// locks the open file description we hand it as fd 3, which stays ours after it exits.
// execa cannot pass a raw descriptor through, hence node:child_process here.

import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { BinderError, ErrorCode } from '../../shared/errors.ts'

function flock(fd: number, waitSeconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '--wait', String(waitSeconds), '3'], {
      stdio: ['ignore', 'ignore', 'ignore', fd],
    })
    child.once('error', reject)
    child.once('exit', code => resolve(code ?? 1))
  })
}

export async function withHostLock<T>(lockPath: string, waitSeconds: number, body: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(lockPath), { recursive: true })
  const fd = openSync(lockPath, 'a')
  try {
    const status = await flock(fd, waitSeconds)
    if (status !== 0) {
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
