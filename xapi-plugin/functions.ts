// The functions this plugin answers, by name. Each one validates all of its arguments
// before it touches anything.

import { type PluginArgs, parseApplyArgs, parseNoArgs, parseReleaseArgs, parseStatusArgs } from '../shared/plugin-args.ts'
import { PLUGIN_NAME, PLUGIN_VERSION, PROTOCOL_VERSION } from '../shared/version.ts'
import { apply } from './apply.ts'
import type { CallContext } from './context.ts'
import { release } from './release.ts'
import { status } from './status.ts'

export type PluginFunction = (args: PluginArgs, ctx: CallContext) => Promise<unknown>

export const functions: Record<string, PluginFunction> = {
  version: async args => {
    parseNoArgs('version', args)
    return { name: PLUGIN_NAME, version: PLUGIN_VERSION, protocol: PROTOCOL_VERSION }
  },
  apply: (args, ctx) => apply(parseApplyArgs(args), ctx),
  release: (args, ctx) => release(parseReleaseArgs(args), ctx),
  status: (args, ctx) => status(parseStatusArgs(args), ctx),
}
