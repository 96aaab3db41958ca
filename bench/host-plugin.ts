// The benchmark's own copy of the built host plugin. dist/ is shared with whoever else
// builds in this tree (a rebuild deletes and rewrites dist/xapi-plugin/ for a moment): the
// benchmark runs a private copy taken right after its build, in a temp dir of its own
// (vib-bench-<pid>-…), removed at the end; dirs of dead runs are swept at the start.

import { chmod, copyFile, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { decodeMethodResponse } from '../shared/xmlrpc.ts'
import { HOST_PLUGIN, XAPI_PATH, xapiEncodedCall } from '../test/helpers/host-plugin.ts'
import { isAlive } from '../test/helpers/netns.ts'

const DIR_PATTERN = /^vib-bench-(\d+)-/

export interface PrivatePlugin {
  path: string
  remove(): Promise<void>
}

export async function privateHostPlugin(): Promise<PrivatePlugin> {
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const owner = DIR_PATTERN.exec(name)?.[1]
    if (owner !== undefined && !isAlive(Number(owner))) await rm(join(tmpdir(), name), { recursive: true, force: true })
  }
  const dir = await mkdtemp(join(tmpdir(), `vib-bench-${process.pid}-`))
  const path = join(dir, 'vif-ip-binder')
  try {
    await copyFile(HOST_PLUGIN, path)
    await chmod(path, 0o755)
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return { path, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** One call as xapi makes it (argv[1] XML, PATH and the root only, stdin /dev/null, in the namespace); its Value, parsed. */
export async function callHostPlugin<T = Record<string, unknown>>(
  binary: string,
  ns: string,
  root: string,
  fn: string,
  args: Record<string, string> = {},
): Promise<T> {
  const result = await execa(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'env',
      '-i',
      `PATH=${XAPI_PATH}`,
      `VIF_IP_BINDER_ROOT=${root}`,
      binary,
      xapiEncodedCall(fn, args),
    ],
    {
      reject: false,
      stdin: 'ignore',
    },
  )
  if (result.exitCode !== 0) throw new Error(`${fn}: the host plugin exited ${result.exitCode}: ${result.stderr}`)
  const response = decodeMethodResponse(result.stdout)
  if (response.kind !== 'value') throw new Error(`${fn}: fault ${response.faultString}`)
  const value = response.value as { Status: string; Value: string; ErrorDescription?: string[] }
  if (value.Status !== 'Success') throw new Error(`${fn} failed: ${JSON.stringify(value.ErrorDescription)}`)
  return JSON.parse(value.Value) as T
}
