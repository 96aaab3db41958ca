// The functions this plugin answers, by name. Each one validates all of its arguments
// (names from FUNCTION_SPECS, the list `help` prints) before it touches anything.

import { invalidArgument } from '../../shared/errors.ts'
import {
  type PluginArgs,
  parseApplyArgs,
  parseBoolean,
  parseNoArgs,
  parsePlugSrsArgs,
  parseReleaseArgs,
  parseStatusArgs,
  parseUuid,
  rejectUnknownKeys,
} from '../../shared/plugin-args.ts'
import { poolDocumentSchema } from '../../shared/pool-schema.ts'
import type { VersionResult } from '../../shared/results.ts'
import { PLUGIN_NAME, PLUGIN_VERSION, PROTOCOL_VERSION } from '../../shared/version.ts'
import { apply } from '../functions/apply.ts'
import { applyMany, parseApplyMany } from '../functions/apply-many.ts'
import { DEFAULT_BOOT_WAIT_SECONDS, boot } from '../functions/boot.ts'
import { configure, showConfig } from '../functions/configure.ts'
import type { CallContext } from '../functions/context.ts'
import { handleHotplug } from '../functions/hotplug.ts'
import { installedParts } from '../functions/install.ts'
import { pause, resume } from '../functions/pause.ts'
import { plugSrs } from '../functions/plug-srs.ts'
import { reconcile } from '../functions/reconcile.ts'
import { release } from '../functions/release.ts'
import { rescue } from '../functions/rescue.ts'
import { resolveXapiArgs } from '../functions/resolve-args.ts'
import { status } from '../functions/status.ts'
import { readPause } from '../runtime/pause-file.ts'

export type PluginFunction = (args: PluginArgs, ctx: CallContext) => Promise<unknown>

/** Manual apply and release work while paused, and say so. */
function withPause<T extends object>(ctx: CallContext, value: T): T {
  const paused = readPause(ctx.env.stateDir)
  return paused ? { ...value, paused } : value
}

function noArgs(fn: string, body: (ctx: CallContext) => Promise<unknown>): PluginFunction {
  return (args, ctx) => {
    parseNoArgs(fn, args)
    return body(ctx)
  }
}

export const functions: Record<string, PluginFunction> = {
  version: noArgs('version', async ctx => {
    const paused = readPause(ctx.env.stateDir)
    const result: VersionResult = {
      name: PLUGIN_NAME,
      version: PLUGIN_VERSION,
      protocol: PROTOCOL_VERSION,
      installed: installedParts(ctx.env.root),
    }
    return paused ? { ...result, paused } : result
  }),
  apply: async (args, ctx) =>
    withPause(ctx, await apply(parseApplyArgs(await resolveXapiArgs('apply', args, ctx)), ctx)),
  release: async (args, ctx) =>
    withPause(ctx, await release(parseReleaseArgs(await resolveXapiArgs('release', args, ctx)), ctx)),
  'apply-many': async (args, ctx) => withPause(ctx, await applyMany(await parseApplyMany(args, ctx), ctx)),
  status: (args, ctx) => status(parseStatusArgs(args), ctx),
  'plug-srs': (args, ctx) => plugSrs(parsePlugSrsArgs(args), ctx),
  reconcile: noArgs('reconcile', reconcile),
  rescue: noArgs('rescue', rescue),
  configure: (args, ctx) => {
    rejectUnknownKeys('configure', args)
    if (!args.bindings?.trim())
      throw invalidArgument('configure: argument "bindings" is required (the JSON document)', 'bindings')
    return configure({ text: args.bindings, dryRun: parseBoolean(args['dry-run'], 'dry-run', false) }, ctx)
  },
  'show-config': noArgs('show-config', showConfig),
  schema: noArgs('schema', async () => poolDocumentSchema),
  pause: (args, ctx) => {
    rejectUnknownKeys('pause', args)
    return pause(args.reason, ctx)
  },
  resume: noArgs('resume', resume),
}

/** Run by the host itself (the boot unit, the hook's worker), not through xapi. */
export const localFunctions: Record<string, PluginFunction> = {
  boot: (args, ctx) => {
    rejectUnknownKeys('boot', args)
    const wait = args.wait ?? String(DEFAULT_BOOT_WAIT_SECONDS)
    if (!/^\d{1,5}$/.test(wait))
      throw invalidArgument(`boot: wait ${JSON.stringify(wait)} is not a number of seconds`, wait)
    return boot(Number(wait), ctx)
  },
  'hotplug-worker': (args, ctx) => {
    rejectUnknownKeys('hotplug-worker', args)
    if (args.action !== 'online' && args.action !== 'remove')
      throw invalidArgument(`hotplug-worker: action ${JSON.stringify(args.action)}`, String(args.action))
    return handleHotplug(
      { action: args.action, vif: parseUuid(args.vif ?? '', 'vif'), vm: parseUuid(args.vm ?? '', 'vm') },
      ctx,
      args.bridge,
    )
  },
}
