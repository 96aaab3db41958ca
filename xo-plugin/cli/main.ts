// vif-ip-binder-xo: the XO plugin's configuration as code, through xo-server's own API
// (xo-lib, JSON-RPC over WebSocket), as the settings page would do it.
//
//   vif-ip-binder-xo check <file>             validate the file, offline
//   vif-ip-binder-xo diff <file>              what push would change
//   vif-ip-binder-xo push <file> [--load]     save it in XO (plugin.configure), then Test
//   vif-ip-binder-xo pull <file>              write XO's configuration to the file
//   vif-ip-binder-xo test [--binding N]       run the plugin's Test
//
// <file>: JSON, or YAML when it ends in .yaml/.yml. XO_URL and XO_TOKEN (or XO_USER and
// XO_PASSWORD) in the environment. Exit status: 0 done, 1 refused or Test failed, 2 usage.

import { parseArgs } from 'node:util'
import { BinderError } from '../../shared/errors.ts'
import { readConfigFile, writeConfigFile } from './config-file.ts'
import { configDiff } from './diff.ts'
import { XoSession, credentialsFromEnv } from './xo-session.ts'

export interface Io {
  env: NodeJS.ProcessEnv
  out(line: string): void
  err(line: string): void
}

const USAGE = 'usage: vif-ip-binder-xo check|diff|push|pull <file> [--load] | test [--binding N]'

class UsageError extends Error {}

/** The error's message, then a failed Test's problems (its `data`: lines per binding), one per line. */
function message(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const data = (error as { data?: unknown }).data
  if (!data || typeof data !== 'object' || Array.isArray(data)) return error.message
  const lines = Object.entries(data).flatMap(([label, problems]) => [
    `✘ ${label}`,
    ...(Array.isArray(problems) ? problems.map(p => `    ${String(p)}`) : []),
  ])
  return [error.message, ...lines].join('\n')
}

async function withSession<T>(io: Io, fn: (xo: XoSession) => Promise<T>): Promise<T> {
  const xo = await XoSession.open(credentialsFromEnv(io.env))
  try {
    return await fn(xo)
  } finally {
    await xo.close().catch(() => undefined)
  }
}

async function runTest(io: Io, xo: XoSession, binding?: number): Promise<number> {
  try {
    await xo.test(binding)
    io.out('Test: every binding is in order.')
    return 0
  } catch (error) {
    io.err(`Test: ${message(error)}`)
    return 1
  }
}

async function push(io: Io, file: string, load: boolean): Promise<number> {
  const config = await readConfigFile(file)
  return withSession(io, async xo => {
    const plugin = await xo.plugin()
    const diff = configDiff(plugin.configuration, config)
    if (diff.length === 0) io.out('XO already has this configuration.')
    else {
      io.out(diff.join('\n'))
      await xo.configure(config)
      io.out('Saved in Xen Orchestra.')
    }
    if (!plugin.loaded && load) await xo.load()
    if (!plugin.loaded && !load) {
      io.out('The plugin is not loaded: no Test (load it on the Plugins page, or push with --load).')
      return 0
    }
    return runTest(io, xo)
  })
}

async function command(
  io: Io,
  name: string | undefined,
  file: string | undefined,
  values: { load?: boolean; binding?: string },
): Promise<number> {
  const needFile = () => {
    if (!file) throw new UsageError(USAGE)
    return file
  }
  switch (name) {
    case 'check':
      await readConfigFile(needFile())
      io.out(`${file}: valid`)
      return 0
    case 'diff': {
      const config = await readConfigFile(needFile())
      const diff = await withSession(io, async xo => configDiff((await xo.plugin()).configuration, config))
      io.out(diff.length ? diff.join('\n') : 'No difference.')
      return 0
    }
    case 'push':
      return push(io, needFile(), values.load ?? false)
    case 'pull': {
      const configuration = await withSession(io, async xo => (await xo.plugin()).configuration)
      if (configuration === undefined) throw new Error('Xen Orchestra has no configuration for the plugin yet')
      await writeConfigFile(needFile(), configuration)
      io.out(`Wrote ${file}.`)
      return 0
    }
    case 'test': {
      const binding = values.binding === undefined ? undefined : Number(values.binding)
      if (binding !== undefined && !Number.isInteger(binding))
        throw new UsageError(`--binding ${JSON.stringify(values.binding)} is not a number`)
      return withSession(io, xo => runTest(io, xo, binding))
    }
    default:
      throw new UsageError(USAGE)
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { load: { type: 'boolean' }, binding: { type: 'string' } },
    })
    return await command(io, positionals[0], positionals[1], values)
  } catch (error) {
    io.err(message(error))
    if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return 2
    // A file the plugin's parser refuses: nothing was sent.
    if (error instanceof BinderError) io.err('Nothing was changed.')
    return 1
  }
}
