// xo-server-vif-ip-binder: xo-server imports this module and calls its default export with
// `{ xo, staticConfig, getDataDir }`; it reads configurationSchema and configurationPresets
// (and testSchema, which this plugin has not) as properties of that function (named exports are ignored). No I/O here.

import { pluginLogger } from './log.ts'
import { type PluginOptions, VifIpBinderPlugin } from './plugin.ts'
import { configurationPresets, configurationSchema } from './schema.ts'
import type { XoApp } from './xapi-types.ts'

export interface FactoryArguments {
  xo: XoApp
  staticConfig?: Partial<Omit<PluginOptions, 'log'>>
  getDataDir?: () => Promise<string>
}

function createPlugin({ xo, staticConfig }: FactoryArguments): VifIpBinderPlugin {
  return new VifIpBinderPlugin(xo, { ...staticConfig, log: pluginLogger() })
}

export default Object.assign(createPlugin, { configurationSchema, configurationPresets })
export { VifIpBinderPlugin }
export type { XoApp }
