// Method table and dispatch, shared by both RPC dialects and every listener. Mirrors the
// order of xapi's generated server: unknown method, then parameter count, then session,
// then the handler (which checks handles). `Async.<method>` wraps any message in a task.

import { encodeValue, type XmlRpcValue } from '../../shared/xmlrpc.ts'
import { toFailure, XapiFailure } from './errors.ts'
import { taskRecord } from './records.ts'
import type { Session, SessionStore } from './sessions.ts'
import { NULL_REF, type ObjectStore, type XapiValue } from './store.ts'

export interface CallContext {
  /** Which listener the call came through: a unix socket trusts local root. */
  via: 'tcp' | 'unix'
  dialect: 'json' | 'xml'
  /** Aborted when the client goes away or the server stops (ends event.from waits, hung plugins). */
  signal: AbortSignal
  session?: Session
}

export type Handler = (ctx: CallContext, args: unknown[]) => unknown

interface MethodSpec {
  /** Parameter counts accepted, session included. */
  arities: number[]
  session: boolean
  /** Whether `Async.<name>` exists (xapi: messages, not field getters/setters). */
  async: boolean
  handler: Handler
}

export class Api {
  private methods = new Map<string, MethodSpec>()
  /** Sees every call before it runs (tests and benchmarks count or time calls with it). */
  observers = new Set<(method: string, params: unknown[], ctx: CallContext) => void>()
  /** Where async tasks are said to run (the master). */
  taskHost: () => string = () => NULL_REF

  constructor(
    private store: ObjectStore,
    private sessions: SessionStore,
  ) {}

  register(
    name: string,
    arity: number | number[],
    handler: Handler,
    options: { session?: boolean; async?: boolean } = {},
  ): void {
    this.methods.set(name, {
      arities: Array.isArray(arity) ? arity : [arity],
      session: options.session ?? true,
      async: options.async ?? false,
      handler,
    })
  }

  has(name: string): boolean {
    return this.methods.has(name)
  }

  listMethods(): string[] {
    const names = [...this.methods.keys()]
    for (const [name, spec] of this.methods) if (spec.async) names.push(`Async.${name}`)
    return names.sort()
  }

  /** Runs a call; resolves to the result or rejects with XapiFailure. */
  async call(method: string, params: unknown[], ctx: CallContext): Promise<unknown> {
    for (const observe of this.observers) observe(method, params, ctx)
    const isAsync = method.startsWith('Async.')
    const name = isAsync ? method.slice('Async.'.length) : method
    const spec = this.methods.get(name)
    if (spec === undefined || (isAsync && !spec.async)) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [method])
    if (!spec.arities.includes(params.length)) {
      throw new XapiFailure('MESSAGE_PARAMETER_COUNT_MISMATCH', [
        method,
        String(Math.max(...spec.arities)),
        String(params.length),
      ])
    }
    const session = spec.session ? this.sessions.check(params[0]) : undefined
    const args = spec.session ? params.slice(1) : params
    const callCtx: CallContext = { ...ctx, session }
    if (!isAsync) return normalise(await spec.handler(callCtx, args))
    return this.startTask(method, spec, callCtx, args)
  }

  private startTask(method: string, spec: MethodSpec, ctx: CallContext, args: unknown[]): string {
    const ref = this.store.create('task', taskRecord({ name_label: method, resident_on: this.taskHost() }))
    // An async task outlives the HTTP request that started it.
    const detached: CallContext = { ...ctx, signal: new AbortController().signal }
    void (async () => {
      try {
        const result = normalise(await spec.handler(detached, args))
        this.finishTask(ref, {
          status: 'success',
          // xapi stores the result as an XML-RPC <value> document ('' for void).
          result: result === '' ? '' : encodeValue(result as XmlRpcValue),
        })
      } catch (error) {
        this.finishTask(ref, { status: 'failure', error_info: toFailure(error).description })
      }
    })()
    return ref
  }

  private finishTask(ref: string, patch: { status: string; result?: string; error_info?: string[] }): void {
    if (!this.store.find('task', ref)) return // destroyed meanwhile
    this.store.update('task', ref, { ...patch, progress: 1, finished: new Date(), allowed_operations: [] })
  }
}

/** void → '' as xapi answers. */
function normalise(value: unknown): XapiValue {
  return value === undefined || value === null ? '' : (value as XapiValue)
}
