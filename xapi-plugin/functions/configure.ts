// configure / show-config / schema: the pool's configuration from any host, without Xen
// Orchestra. configure validates the whole document (syntax with the same parser as XO,
// then every VM, network and SR against this pool) before it writes anything, and writes
// it so that no reader ever finds the pool without one.

import {
  type PluginConfig,
  type PoolConfig,
  POOL_CONFIG_VERSION,
  encodePoolConfig,
  parsePluginConfig,
} from '../../shared/binding.ts'
import { invalidArgument } from '../../shared/errors.ts'
import { suggestion } from '../../shared/function-spec.ts'
import {
  type PoolDocument,
  encodePoolDocument,
  readPoolDocument,
  writePoolDocument,
  writerId,
} from '../../shared/pool-document.ts'
import type { CallContext } from './context.ts'
import { callToken, unconfirmedTokens } from '../engine/confirmation.ts'
import { readPoolForIndex, refreshHookIndex } from './refresh-index.ts'
import { reconcile } from './reconcile.ts'
import { type LocalXapi, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { resolveAgainstPool } from '../xapi/resolve-config.ts'

export interface ConfigureRequest {
  text: string
  dryRun: boolean
  /** Seconds: this host's bindings are applied at once, reverting unless confirmed (0: written only). */
  confirmSeconds?: number
}

const DOCUMENT_FIELDS = ['version', 'writtenBy', 'gatewayCheckSeconds', 'rescue', 'bindings']
const BINDING_FIELDS = [
  'vm',
  'network',
  'addresses',
  'gateways',
  'routes',
  'managementAddress',
  'proxyArp',
  'forwarding',
  'srs',
]

function rejectUnknownFields(value: object, allowed: string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw invalidArgument(`${where}: unknown field ${JSON.stringify(key)}${suggestion(key, allowed)}`, key)
  }
}

/** The admin's document: JSON, known fields only (a typo must not be silently ignored). */
export function parseDocumentText(text: string): PluginConfig {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw invalidArgument(`bindings: not JSON (${(error as Error).message})`, text.slice(0, 80))
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidArgument('bindings: expected a JSON object with a "bindings" list', text.slice(0, 80))
  rejectUnknownFields(value, DOCUMENT_FIELDS, 'bindings')
  const document = value as PluginConfig & { version?: unknown }
  if (document.version !== undefined && document.version !== POOL_CONFIG_VERSION) {
    throw invalidArgument(
      `bindings: version ${JSON.stringify(document.version)} is not ${POOL_CONFIG_VERSION}`,
      String(document.version),
    )
  }
  if (!Array.isArray(document.bindings)) throw invalidArgument('bindings: a list of bindings is required', 'bindings')
  document.bindings.forEach((binding, i) => {
    if (typeof binding === 'object' && binding !== null)
      rejectUnknownFields(binding, BINDING_FIELDS, `binding ${i + 1}`)
  })
  return document
}

async function poolOtherConfig(xapi: LocalXapi): Promise<{ ref: string; otherConfig: Record<string, string> }> {
  const [ref] = await xapi.call<string[]>('pool.get_all')
  if (!ref) throw invalidArgument('xapi knows no pool')
  return { ref, otherConfig: await xapi.call<Record<string, string>>('pool.get_other_config', ref) }
}

/** The same bindings and settings, whoever wrote them and when. */
function sameConfiguration(previous: PoolDocument, config: PoolConfig): boolean {
  if (previous.state !== 'ok') return false
  const { writtenBy: _, ...rest } = previous.config
  return encodePoolConfig(rest) === encodePoolConfig(config)
}

/**
 * configure confirm=N: the document is written, then this host is reconciled with a
 * confirmation window (`confirm token=…` keeps it). A revert also keeps the reverted
 * arguments out of this host's own later applies while the document holds them.
 */
export async function configure(request: ConfigureRequest, ctx: CallContext) {
  const written = await writeConfiguration(request, ctx)
  const seconds = request.confirmSeconds ?? 0
  if (request.dryRun || seconds === 0) return written
  const reconciled = await reconcile(ctx, { apply: { confirmSeconds: seconds }, gatewayBudgetSeconds: 0 })
  // This call's own token (its applies shared it), never another caller's pending one.
  const pending = ctx.store.load().confirmation
  const token = callToken()
  const mine = pending && unconfirmedTokens(pending).includes(token)
  const confirmation = mine && { token, deadline: pending.deadline, seconds }
  return { ...written, reconcile: reconciled, ...(confirmation ? { confirmation } : {}) }
}

async function writeConfiguration(request: ConfigureRequest, ctx: CallContext) {
  const parsed = parsePluginConfig(parseDocumentText(request.text))
  return withLocalXapi(ctx.env.root, ctx.session, async xapi => {
    const bindings = await resolveAgainstPool(xapi, parsed.bindings)
    const host = await thisHost(ctx.env.root, xapi)
    const config: PoolConfig = { version: POOL_CONFIG_VERSION, ...parsed, bindings }
    const text = encodePoolDocument(config, { by: 'host', host: host.uuid, at: new Date().toISOString() })
    const pool = await poolOtherConfig(xapi)
    const previous = readPoolDocument(pool.otherConfig)
    const previousWriter = previous.state === 'ok' ? previous.writtenBy : undefined
    const result = { dryRun: request.dryRun, document: JSON.parse(text) as unknown, previousWriter }
    if (sameConfiguration(previous, config)) return { ...result, outcome: 'unchanged' }
    if (request.dryRun) return { ...result, outcome: 'checked' }
    const call = (method: string, ...params: unknown[]) => xapi.call(method, ...params)
    const outcome = await writePoolDocument(call, pool.ref, text, pool.otherConfig, writerId(host.uuid))
    ctx.log.log('info', 'configure: pool configuration written', { bindings: bindings.length, outcome })
    // This host's hook reads the new bindings at once (no index at all if that fails); other
    // hosts refresh theirs at their next reconcile or hook worker, or when it expires.
    await refreshHookIndex(xapi, host, await readPoolForIndex(xapi, ctx), ctx)
    return { ...result, outcome }
  })
}

/** What the pool holds now: `ok` (with who wrote it), `missing`, or `unreadable` and why. */
export function describeDocument(document: PoolDocument) {
  if (document.state === 'ok') return { state: 'ok', source: document.source, document: JSON.parse(document.text) }
  if (document.state === 'missing') return { state: 'missing' }
  return { state: 'unreadable', source: document.source, error: document.error.errorDescription }
}

export async function showConfig(ctx: CallContext) {
  return withLocalXapi(ctx.env.root, ctx.session, async xapi =>
    describeDocument(readPoolDocument((await poolOtherConfig(xapi)).otherConfig)),
  )
}
