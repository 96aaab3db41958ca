// Per-interface sysctls, read and written through /proc/sys (which shows the calling
// process's network namespace, so the simulator's hosts each see their own).

import { readFile, writeFile } from 'node:fs/promises'
import { BinderError, ErrorCode } from '../../shared/errors.ts'

export type SysctlName = 'proxy_arp' | 'forwarding' | 'promote_secondaries'

export function sysctlPath(family: 4 | 6, dev: string, name: SysctlName): string {
  return `/proc/sys/net/${family === 4 ? 'ipv4' : 'ipv6'}/conf/${dev}/${name}`
}

export async function readSysctl(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch {
    return undefined
  }
}

export async function writeSysctl(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value + '\n')
  } catch (error) {
    const message = (error as Error).message
    throw new BinderError(ErrorCode.COMMAND_FAILED, `writing ${value} to ${path} failed: ${message}`, [path, message])
  }
}
