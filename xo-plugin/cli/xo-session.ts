// A signed-in xo-lib session to one xo-server, with the plugin calls the command makes.
// Credentials come from the environment only (XO_URL, and XO_TOKEN or XO_USER plus
// XO_PASSWORD), never from the command line, which shells keep in their history.

import XoLib, { type XoClient } from 'xo-lib'
import { PLUGIN_NAME } from '../../shared/version.ts'

export interface XoCredentials {
  url: string
  auth: { token: string } | { email: string; password: string }
}

export function credentialsFromEnv(env: NodeJS.ProcessEnv): XoCredentials {
  const url = env.XO_URL
  if (!url) throw new Error('XO_URL is not set (e.g. XO_URL=https://xo.example.org)')
  if (env.XO_TOKEN) return { url, auth: { token: env.XO_TOKEN } }
  if (env.XO_USER && env.XO_PASSWORD) return { url, auth: { email: env.XO_USER, password: env.XO_PASSWORD } }
  throw new Error('set XO_TOKEN (an authentication token), or XO_USER and XO_PASSWORD')
}

interface PluginInfo {
  id: string
  loaded?: boolean
  configuration?: unknown
}

export class XoSession {
  private constructor(private readonly xo: XoClient) {}

  static async open({ url, auth }: XoCredentials): Promise<XoSession> {
    const Xo = XoLib.default ?? XoLib
    const xo = new Xo({ url })
    await xo.open()
    try {
      await xo.signIn(auth)
    } catch (error) {
      await xo.close().catch(() => undefined)
      throw error
    }
    return new XoSession(xo)
  }

  async plugin(): Promise<PluginInfo> {
    const plugins = (await this.xo.call('plugin.get')) as PluginInfo[]
    const plugin = plugins.find(p => p.id === PLUGIN_NAME)
    if (!plugin)
      throw new Error(`xo-server has no plugin ${PLUGIN_NAME}: install xo-server-${PLUGIN_NAME} and restart xo-server`)
    return plugin
  }

  configure(configuration: unknown): Promise<unknown> {
    return this.xo.call('plugin.configure', { id: PLUGIN_NAME, configuration })
  }

  load(): Promise<unknown> {
    return this.xo.call('plugin.load', { id: PLUGIN_NAME })
  }

  test(binding?: number): Promise<unknown> {
    return this.xo.call('plugin.test', { id: PLUGIN_NAME, ...(binding === undefined ? {} : { data: { binding } }) })
  }

  close(): Promise<void> {
    return this.xo.close()
  }
}
