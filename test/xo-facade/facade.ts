// A thin stand-in for xo-server: the slice of its API the XO plugin uses (`getAllXapis`,
// `server:connected` / `server:disconnected`), backed by the unmodified `xen-api` client,
// plus the plugin host's part (load the package, validate the configuration with ajv
// exactly as xo-server's plugins mixin does, configure/load/test/unload). Tests and the
// demo drive the plugin through it, so they exercise what xo-server would.

import { EventEmitter } from 'node:events'
import { Ajv } from 'ajv'
import { createClient } from 'xen-api'
import type { PluginConfig } from '../../shared/binding.ts'
import type { XoTask, XoTasks } from '../../xo-plugin/test-task.ts'
import type { RecordBatch, ServerEvent, XapiConnection, XoApp } from '../../xo-plugin/xapi-types.ts'
import { type XoObject, toXoObject } from './xo-objects.ts'

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
  /**
   * xen-api's pause before each event.from. xo-server leaves xen-api's default
   * (XO_SERVER_DEBOUNCE_MS); tests use TEST_DEBOUNCE_MS to run faster, the bench xo-server's.
   */
  debounceMs?: number
}

/** xen-api's default `debounce`, which xo-server's xapiOptions do not change (packages/xen-api/index.mjs). */
export const XO_SERVER_DEBOUNCE_MS = 200
const TEST_DEBOUNCE_MS = 50

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

/** One XO task as xo-server keeps it: its properties, log entries and outcome. */
export interface TaskLog {
  id: string
  properties: Record<string, unknown>
  status: 'pending' | 'success' | 'failure'
  infos: { level: 'info' | 'warning'; message: string; data?: unknown }[]
  result?: unknown
}

/** xo-server's task manager, as far as plugins use it (`@vates/task` tasks). */
export class FacadeTasks implements XoTasks {
  readonly logs: TaskLog[] = []

  create(properties: { name: string; type?: string; objectId?: string }): XoTask {
    const log: TaskLog = { id: `task-${this.logs.length + 1}`, properties, status: 'pending', infos: [] }
    this.logs.push(log)
    return {
      id: log.id,
      info: (message, data) => log.infos.push({ level: 'info', message, data }),
      warning: (message, data) => log.infos.push({ level: 'warning', message, data }),
      run: async fn => {
        try {
          const result = await fn()
          Object.assign(log, { status: 'success', result })
          return result
        } catch (error) {
          Object.assign(log, { status: 'failure', result: error })
          throw error
        }
      },
    }
  }
}

export class XoFacade extends EventEmitter implements XoApp {
  private readonly xapis: Record<string, Xapi> = {}
  private readonly objects = new Map<string, XoObject>()
  private readonly plugins = new Map<string, { configuration?: unknown }>()
  private readonly unwatch = new Map<string, () => void>()
  readonly tasks = new FacadeTasks()
  /** Records xo-server could not turn into XO objects: it logs and drops them. */
  readonly conversionErrors: { id: string; type: string; error: Error }[] = []

  getAllXapis(): Record<string, XapiConnection> {
    return this.xapis
  }

  getObject(id: string, type?: string): XoObject {
    const object = this.objects.get(id)
    if (!object || (type !== undefined && object.type !== type)) throw new Error(`no such object ${id}`)
    return object
  }

  getObjects({ filter }: { filter?: (object: XoObject) => boolean } = {}): Record<string, XoObject> {
    return Object.fromEntries([...this.objects].filter(([, o]) => !filter || filter(o)))
  }

  async getOptionalPlugin(id: string): Promise<{ configuration?: unknown } | undefined> {
    return this.plugins.get(id)
  }

  /** What xo-server's database holds for a plugin (PluginHost saves there). */
  savePluginConfiguration(id: string, configuration: unknown): void {
    this.plugins.set(id, { configuration: structuredClone(configuration) })
  }

  /** As xo-server's xen-servers mixin: every cached record becomes an XO object, kept current. */
  private watchObjects(id: string, xapi: Xapi): void {
    const put = (batch: RecordBatch) => {
      for (const [key, raw] of Object.entries(batch)) {
        if (!raw) continue
        try {
          const object = toXoObject(raw as never)
          if (object) this.objects.set(key, object)
        } catch (error) {
          this.conversionErrors.push({ id: key, type: raw.$type, error: error as Error })
        }
      }
    }
    const remove = (batch: RecordBatch) => {
      for (const key of Object.keys(batch)) this.objects.delete(key)
    }
    xapi.objects.on('add', put)
    xapi.objects.on('update', put)
    xapi.objects.on('remove', remove)
    put(xapi.objects.all)
    this.unwatch.set(id, () => {
      xapi.objects.removeListener('add', put)
      xapi.objects.removeListener('update', put)
      xapi.objects.removeListener('remove', remove)
      for (const [key, object] of this.objects) if (object.$pool === xapi.pool?.$id) this.objects.delete(key)
    })
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
      debounce: options.debounceMs ?? TEST_DEBOUNCE_MS,
    }) as Xapi
    await xapi.connect()
    this.xapis[id] = xapi
    this.watchObjects(id, xapi)
    this.emit('server:connected', { server: { id }, xapi } satisfies ServerEvent)
    return xapi
  }

  /** As `server.disable`: the connection is closed, then announced gone. */
  async disconnectServer(id: string): Promise<void> {
    const xapi = this.xapis[id]
    if (!xapi) return
    delete this.xapis[id]
    this.unwatch.get(id)?.()
    this.unwatch.delete(id)
    await xapi.disconnect()
    this.emit('server:disconnected', { server: { id }, xapi } satisfies ServerEvent)
  }

  async disconnectAll(): Promise<void> {
    for (const id of Object.keys(this.xapis)) await this.disconnectServer(id)
  }
}

/**
 * Runs `fn` (a disconnection, a simulator's stop) without the console warning xen-api's
 * event loop prints for the cut of its last, pending event.from: expected there, and noise.
 */
export async function withoutEventCutWarning<T>(fn: () => Promise<T>): Promise<T> {
  const warn = console.warn
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] !== 'string' || !args[0].startsWith('_watchEvents')) warn(...args)
  }
  try {
    return await fn()
  } finally {
    console.warn = warn
  }
}

/**
 * One registered plugin, driven as xo-server's plugins mixin drives it
 * (packages/xo-server/src/xo-mixins/plugins.mjs): a plugin with a configuration schema
 * loads only once a configuration was accepted, and at start-up with nothing saved it is
 * offered `{}`, whose refusal is silent.
 */
export class PluginHost<I extends PluginInstance = PluginInstance> {
  readonly instance: I
  /** undefined until first loaded, as xo-server's `plugin.loaded`. */
  loaded: boolean | undefined = undefined
  /** As xo-server's `plugin.configured`. */
  configured: boolean
  private readonly ajv = new Ajv({ strict: 'log', useDefaults: true }).addVocabulary(['$type', 'enumNames'])

  constructor(
    readonly factory: PluginFactory,
    readonly xo: XoFacade,
    readonly id = 'vif-ip-binder',
    /** xo-server's `[plugins.<id>]` table of config.toml. */
    staticConfig: Record<string, unknown> = {},
  ) {
    this.instance = factory({ xo, staticConfig, getDataDir: async () => '/nonexistent' }) as I
    this.configured = factory.configurationSchema === undefined
  }

  /** `plugin.configure`: validated, handed to the plugin, saved only if it accepted it. */
  async configure(configuration: PluginConfig | Record<string, unknown>): Promise<void> {
    await this.applyConfiguration(configuration)
    this.xo.savePluginConfiguration(this.id, configuration)
  }

  /** xo-server's start-up (`registerPlugin`): the saved configuration, before any load. */
  async start(): Promise<void> {
    const saved = (await this.xo.getOptionalPlugin(this.id))?.configuration
    if (saved !== undefined) await this.applyConfiguration(saved as Record<string, unknown>, undefined)
    else if (!this.configured) await this.applyConfiguration({}, undefined).catch(() => undefined)
  }

  private async applyConfiguration(
    configuration: PluginConfig | Record<string, unknown>,
    loaded: boolean | undefined = this.loaded,
  ): Promise<void> {
    const validate = this.ajv.compile(this.factory.configurationSchema ?? {})
    const copy = structuredClone(configuration)
    if (!validate(copy)) throw new InvalidParameters(validate.errors)
    await this.instance.configure({ ...copy }, { loaded: loaded as boolean })
    this.configured = true
  }

  async load(): Promise<void> {
    if (!this.configured) throw new InvalidParameters('plugin not configured')
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
