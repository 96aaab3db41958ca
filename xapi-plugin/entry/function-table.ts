// The functions this plugin answers, by name. Each one validates all of its arguments
// (names from FUNCTION_SPECS, the list `help` prints) before it touches anything. Each
// loads its own module when called (a lazy initialisation in the bundle): a call
// evaluates the code of its own function, not that of all the others.

import { ErrorCode, invalidArgument } from '../../shared/errors.ts'
import {
  type PluginArgs,
  parseApplyArgs,
  parseBoolean,
  parseConfirmArgs,
  parseConfirmSeconds,
  parseNoArgs,
  parsePlugSrsArgs,
  parseReleaseArgs,
  parseStatusArgs,
  parseUuid,
  rejectUnknownKeys,
} from '../../shared/plugin-args.ts'
import type { VersionResult } from '../../shared/results.ts'
import { PLUGIN_NAME, PLUGIN_VERSION, PROTOCOL_VERSION } from '../../shared/version.ts'
import type { CallContext } from '../functions/context.ts'
import { installedParts } from '../functions/installed-parts.ts'
import { readPause } from '../runtime/pause-file.ts'
import { removeIndexInOrder } from '../engine/index-order.ts'

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

/**
 * A call that changes what this host is asked to hold removes the hook's index before it
 * answers: its caller (Xen Orchestra) may have changed the pool document too, which the
 * index would otherwise hide from the hook for up to MAX_AGE_MS. The removal comes after
 * every read under way, so no hook worker that read the document before writes it back
 * (engine/index-order.ts). Refused arguments changed nothing and keep it.
 */
function forgetsIndex(fn: PluginFunction): PluginFunction {
  return async (args, ctx) => {
    let refused = false
    try {
      return await fn(args, ctx)
    } catch (error) {
      refused = (error as { code?: unknown }).code === ErrorCode.INVALID_ARGUMENT
      throw error
    } finally {
      if (!refused) await removeIndexInOrder(ctx.env)
    }
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
  apply: forgetsIndex(async (args, ctx) => {
    const [{ apply }, { resolveXapiArgs }] = await Promise.all([
      import('../functions/apply.ts'),
      import('../functions/resolve-args.ts'),
    ])
    const { confirm: window, ...rest } = args
    const confirmSeconds = parseConfirmSeconds(window)
    const request = parseApplyArgs(await resolveXapiArgs('apply', rest, ctx))
    return withPause(ctx, await apply(request, ctx, { confirmSeconds }))
  }),
  confirm: async (args, ctx) => (await import('../functions/confirm.ts')).confirm(parseConfirmArgs(args).token, ctx),
  release: forgetsIndex(async (args, ctx) => {
    const [{ release }, { resolveXapiArgs }] = await Promise.all([
      import('../functions/release.ts'),
      import('../functions/resolve-args.ts'),
    ])
    return withPause(ctx, await release(parseReleaseArgs(await resolveXapiArgs('release', args, ctx)), ctx))
  }),
  'apply-many': forgetsIndex(async (args, ctx) => {
    const { applyMany, parseApplyMany, parseApplyManyOptions } = await import('../functions/apply-many.ts')
    const options = parseApplyManyOptions(args)
    return withPause(ctx, await applyMany(await parseApplyMany(args, ctx), ctx, options))
  }),
  status: async (args, ctx) => (await import('../functions/status.ts')).status(parseStatusArgs(args), ctx),
  'plug-srs': async (args, ctx) => (await import('../functions/plug-srs.ts')).plugSrs(parsePlugSrsArgs(args), ctx),
  reconcile: noArgs('reconcile', async ctx => (await import('../functions/reconcile.ts')).reconcile(ctx)),
  rescue: noArgs('rescue', async ctx => (await import('../functions/rescue.ts')).rescue(ctx)),
  configure: async (args, ctx) => {
    rejectUnknownKeys('configure', args)
    if (!args.bindings?.trim())
      throw invalidArgument('configure: argument "bindings" is required (the JSON document)', 'bindings')
    const dryRun = parseBoolean(args['dry-run'], 'dry-run', false)
    const confirmSeconds = parseConfirmSeconds(args.confirm)
    return (await import('../functions/configure.ts')).configure({ text: args.bindings, dryRun, confirmSeconds }, ctx)
  },
  'show-config': noArgs('show-config', async ctx => (await import('../functions/configure.ts')).showConfig(ctx)),
  schema: noArgs('schema', async () => (await import('../../shared/pool-schema.ts')).poolDocumentSchema),
  pause: async (args, ctx) => {
    rejectUnknownKeys('pause', args)
    return (await import('../functions/pause.ts')).pause(args.reason, ctx)
  },
  // While paused, the hook kept no index up to date.
  resume: forgetsIndex(noArgs('resume', async ctx => (await import('../functions/pause.ts')).resume(ctx))),
  'refresh-index': noArgs('refresh-index', async ctx =>
    (await import('../functions/refresh-index.ts')).refreshIndex(ctx),
  ),
}

/** Run by the host itself (the boot unit, the hook's worker), not through xapi. */
export const localFunctions: Record<string, PluginFunction> = {
  boot: async (args, ctx) => {
    rejectUnknownKeys('boot', args)
    const { DEFAULT_BOOT_WAIT_SECONDS, boot } = await import('../functions/boot.ts')
    const wait = args.wait ?? String(DEFAULT_BOOT_WAIT_SECONDS)
    if (!/^\d{1,5}$/.test(wait))
      throw invalidArgument(`boot: wait ${JSON.stringify(wait)} is not a number of seconds`, wait)
    return boot(Number(wait), ctx)
  },
  'revert-worker': async (args, ctx) => {
    rejectUnknownKeys('revert-worker', args)
    const { revertWorker } = await import('../functions/confirm.ts')
    return revertWorker(parseUuid(args.token ?? '', 'token'), ctx)
  },
  'hotplug-worker': async (args, ctx) => {
    rejectUnknownKeys('hotplug-worker', args)
    if (args.action !== 'online' && args.action !== 'remove')
      throw invalidArgument(`hotplug-worker: action ${JSON.stringify(args.action)}`, String(args.action))
    const { handleHotplug } = await import('../functions/hotplug.ts')
    return handleHotplug(
      { action: args.action, vif: parseUuid(args.vif ?? '', 'vif'), vm: parseUuid(args.vm ?? '', 'vm') },
      ctx,
      args.bridge,
    )
  },
}
