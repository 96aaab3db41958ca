// The functions this plugin answers, by name. Each one validates all of its arguments
// before it touches anything.

import { invalidArgument } from '../../shared/errors.ts'
import {
  type PluginArgs,
  parseApplyArgs,
  parseNoArgs,
  parsePlugSrsArgs,
  parseReleaseArgs,
  parseStatusArgs,
  parseUuid,
} from '../../shared/plugin-args.ts'
import { PLUGIN_NAME, PLUGIN_VERSION, PROTOCOL_VERSION } from '../../shared/version.ts'
import { apply } from '../functions/apply.ts'
import { applyMany, parseApplyMany } from '../functions/apply-many.ts'
import type { CallContext } from '../functions/context.ts'
import { DEFAULT_BOOT_WAIT_SECONDS, boot } from '../functions/boot.ts'
import { handleHotplug } from '../functions/hotplug.ts'
import { plugSrs } from '../functions/plug-srs.ts'
import { reconcile } from '../functions/reconcile.ts'
import { rescue } from '../functions/rescue.ts'
import { resolveXapiArgs } from '../functions/resolve-args.ts'
import { release } from '../functions/release.ts'
import { status } from '../functions/status.ts'

export type PluginFunction = (args: PluginArgs, ctx: CallContext) => Promise<unknown>

export const functions: Record<string, PluginFunction> = {
  version: async args => {
    parseNoArgs('version', args)
    return { name: PLUGIN_NAME, version: PLUGIN_VERSION, protocol: PROTOCOL_VERSION }
  },
  apply: async (args, ctx) => apply(parseApplyArgs(await resolveXapiArgs('apply', args, ctx)), ctx),
  'apply-many': async (args, ctx) => applyMany(await parseApplyMany(args, ctx), ctx),
  release: async (args, ctx) => release(parseReleaseArgs(await resolveXapiArgs('release', args, ctx)), ctx),
  status: (args, ctx) => status(parseStatusArgs(args), ctx),
  'plug-srs': (args, ctx) => plugSrs(parsePlugSrsArgs(args), ctx),
  reconcile: (args, ctx) => {
    parseNoArgs('reconcile', args)
    return reconcile(ctx)
  },
  rescue: (args, ctx) => {
    parseNoArgs('rescue', args)
    return rescue(ctx)
  },
}

/** Run by the host itself (the boot unit, the hook's worker), not through xapi. */
export const localFunctions: Record<string, PluginFunction> = {
  boot: (args, ctx) => {
    const unknown = Object.keys(args).find(k => k !== 'wait')
    if (unknown) throw invalidArgument(`boot: unknown argument ${JSON.stringify(unknown)} (accepted: wait)`, unknown)
    const wait = args.wait ?? String(DEFAULT_BOOT_WAIT_SECONDS)
    if (!/^\d{1,5}$/.test(wait))
      throw invalidArgument(`boot: wait ${JSON.stringify(wait)} is not a number of seconds`, wait)
    return boot(Number(wait), ctx)
  },
  'hotplug-worker': (args, ctx) => {
    const unknown = Object.keys(args).find(k => !['action', 'vif', 'vm', 'bridge'].includes(k))
    if (unknown) throw invalidArgument(`hotplug-worker: unknown argument ${JSON.stringify(unknown)}`, unknown)
    if (args.action !== 'online' && args.action !== 'remove')
      throw invalidArgument(`hotplug-worker: action ${JSON.stringify(args.action)}`, String(args.action))
    return handleHotplug(
      { action: args.action, vif: parseUuid(args.vif ?? '', 'vif'), vm: parseUuid(args.vm ?? '', 'vm') },
      ctx,
      args.bridge,
    )
  },
}
