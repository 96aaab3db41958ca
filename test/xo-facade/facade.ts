// A thin stand-in for xo-server: the slice of its API the XO plugin uses (`getAllXapis`,
// `server:connected` / `server:disconnected`), backed by the unmodified `xen-api` client,
// plus the plugin host's part (load the package, validate the configuration with ajv
// exactly as xo-server's plugins mixin does, configure/load/test/unload). Tests and the
// demo drive the plugin through it, so they exercise what xo-server would.

import { EventEmitter } from 'node:events'
import { Ajv } from 'ajv'
import { createClient } from 'xen-api'
import type { PluginConfig } from '../../shared/binding.ts'
import type { ServerEvent, XapiConnection, XoApp } from '../../xo-plugin/xapi-types.ts'

/** The `xen-api` client, as far as the facade and the plugin use it. */
export interface Xapi extends XapiConnection {
  connect(): Promise<void>
  disconnect(): Promise<void>
  readonly status: string
  on(event: string, listener: (...args: unknown[]) => void): unknown
}

export interface ServerOptions {
  url: string
  user: string
  password: string
  readOnly?: boolean
}

export interface PluginInstance {
  configure(config: unknown, options: { loaded: boolean }): Promise<void>
  load(): Promise<void>
  unload?(): Promise<void>
  test?(data?: unknown): Promise<unknown>
}

export interface PluginFactory {
  (args: { xo: XoApp; staticConfig: Record<string, unknown>; getDataDir: () => Promise<string> }): PluginInstance
  configurationSchema?: object
  configurationPresets?: Record<string, unknown>
  testSchema?: object
}

/** xo-server answers a config the schema refuses with an "invalid parameters" error carrying ajv's errors. */
export class InvalidParameters extends Error {
  override name = 'InvalidParameters'
  readonly code = 10
  constructor(readonly data: unknown) {
    super(`invalid parameters: ${JSON.stringify(data)}`)
  }
}

export class XoFacade extends EventEmitter implements XoApp {
  private readonly xapis: Record<string, Xapi> = {}

  getAllXapis(): Record<string, XapiConnection> {
    return this.xapis
  }

  /** Connects a pool as xo-server does on `server.add`/`server.enable`, then announces it. */
  async connectServer(id: string, options: ServerOptions): Promise<Xapi> {
    const xapi = createClient({
      url: options.url,
      auth: { user: options.user, password: options.password },
      allowUnauthorized: true,
      readOnly: options.readOnly ?? false,
      // xo-server's default is a minute; tests should not wait that long after a cut.
      eventPollDelay: 300,
      debounce: 50,
    }) as Xapi
    await xapi.connect()
    this.xapis[id] = xapi
    this.emit('server:connected', { server: { id }, xapi } satisfies ServerEvent)
    return xapi
  }

  /** As `server.disable`: the connection is closed, then announced gone. */
  async disconnectServer(id: string): Promise<void> {
    const xapi = this.xapis[id]
    if (!xapi) return
    delete this.xapis[id]
    await xapi.disconnect()
    this.emit('server:disconnected', { server: { id }, xapi } satisfies ServerEvent)
  }

  async disconnectAll(): Promise<void> {
    for (const id of Object.keys(this.xapis)) await this.disconnectServer(id)
  }
}

/** One registered plugin, driven as xo-server's plugins mixin drives it. */
export class PluginHost<I extends PluginInstance = PluginInstance> {
  readonly instance: I
  loaded = false
  private readonly ajv = new Ajv({ strict: 'log', useDefaults: true }).addVocabulary(['$type', 'enumNames'])

  constructor(
    readonly factory: PluginFactory,
    readonly xo: XoFacade,
  ) {
    this.instance = factory({ xo, staticConfig: {}, getDataDir: async () => '/nonexistent' }) as I
  }

  async configure(configuration: PluginConfig | Record<string, unknown>): Promise<void> {
    const validate = this.ajv.compile(this.factory.configurationSchema ?? {})
    const copy = structuredClone(configuration)
    if (!validate(copy)) throw new InvalidParameters(validate.errors)
    await this.instance.configure({ ...copy }, { loaded: this.loaded })
  }

  async load(): Promise<void> {
    await this.instance.load()
    this.loaded = true
  }

  async unload(): Promise<void> {
    if (!this.loaded) return
    await this.instance.unload?.()
    this.loaded = false
  }

  async test(data?: unknown): Promise<unknown> {
    if (!this.loaded) throw new Error('plugin not loaded')
    if (this.factory.testSchema) {
      // As xo-server: with a testSchema, the data is required.
      if (data == null) throw new InvalidParameters([{ field: 'data', message: 'is the wrong type' }])
      const validate = this.ajv.compile(this.factory.testSchema)
      if (!validate(data)) throw new InvalidParameters(validate.errors)
    }
    return this.instance.test?.(data)
  }
}
