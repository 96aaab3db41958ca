// The pool document: pool.other_config["vif-ip-binder"], the one configuration that XO's
// settings page and a host's `configure` both write and every host reads without XO.
//
// xapi cannot replace one key of a map in one call: add_to_other_config on an existing key
// fails (MAP_DUPLICATE_KEY) and set_other_config rewrites the whole map, dropping keys
// other clients add meanwhile. So a write goes through a staging key of its own: the new
// text is added under it first, the main key is then replaced (remove, add), and the
// staging key goes last. Between any two calls one of the two keys holds a whole
// document, and a reader that finds the main key missing reads the staging copy.

import {
  type Binding,
  POOL_CONFIG_KEY,
  type PoolConfig,
  type WrittenBy,
  decodePoolConfig,
  encodePoolConfig,
} from './binding.ts'
import { BinderError, XapiError } from './errors.ts'

export const STAGING_PREFIX = `${POOL_CONFIG_KEY}:staging:`
/** A staging copy this old was left by a writer that died; the next write sweeps it. */
const STALE_STAGING_MS = 10 * 60_000

export type { WrittenBy }

export type PoolDocument =
  | {
      state: 'ok'
      config: PoolConfig
      bindings: Binding[]
      writtenBy?: WrittenBy
      source: 'main' | 'staging'
      text: string
    }
  | { state: 'missing' }
  | { state: 'unreadable'; error: BinderError; source: 'main' | 'staging' }

function writtenByOf(text: string): WrittenBy | undefined {
  try {
    const value = (JSON.parse(text) as { writtenBy?: WrittenBy }).writtenBy
    return value &&
      typeof value === 'object' &&
      typeof value.at === 'string' &&
      (value.by === 'xo' || value.by === 'host')
      ? value
      : undefined
  } catch {
    return undefined
  }
}

function atOf(text: string): number {
  const at = Date.parse(writtenByOf(text)?.at ?? '')
  return Number.isFinite(at) ? at : 0
}

/** The staging copies in a map, newest first. */
function stagingTexts(otherConfig: Record<string, string>): [string, string][] {
  return Object.entries(otherConfig)
    .filter(([key]) => key.startsWith(STAGING_PREFIX))
    .sort(([, a], [, b]) => atOf(b) - atOf(a))
}

/**
 * Reads the document from one snapshot of pool.other_config. `missing` and `unreadable`
 * both mean "change nothing": neither is ever a reason to release.
 */
export function readPoolDocument(otherConfig: Record<string, string>): PoolDocument {
  const main = otherConfig[POOL_CONFIG_KEY]
  const [staged] = stagingTexts(otherConfig)
  const source = main !== undefined ? 'main' : 'staging'
  const text = main ?? staged?.[1]
  if (text === undefined) return { state: 'missing' }
  try {
    const { config, bindings } = decodePoolConfig(text)
    const writtenBy = writtenByOf(text)
    return { state: 'ok', config: writtenBy ? { ...config, writtenBy } : config, bindings, writtenBy, source, text }
  } catch (error) {
    if (error instanceof BinderError) return { state: 'unreadable', error, source }
    throw error
  }
}

/** What a writer needs of a xapi connection: XO's and the host's both have it. */
export type XapiCall = (method: string, ...params: unknown[]) => Promise<unknown>

/** `superseded`: a concurrent write replaced the document at the same moment, and won. */
export type WriteOutcome = 'unchanged' | 'written' | 'superseded'

function isDuplicateKey(error: unknown): boolean {
  const code = error instanceof XapiError ? error.code : (error as { code?: unknown })?.code
  return code === 'MAP_DUPLICATE_KEY'
}

/**
 * Replaces the document with no moment where a reader finds none. `current` is a recent
 * snapshot of pool.other_config (to skip a no-op write and sweep stale staging copies);
 * `writerId` makes the staging key unique to this write.
 */
export async function writePoolDocument(
  call: XapiCall,
  poolRef: string,
  text: string,
  current: Record<string, string>,
  writerId: string,
  now = Date.now(),
): Promise<WriteOutcome> {
  if (current[POOL_CONFIG_KEY] === text) return 'unchanged'
  const staging = `${STAGING_PREFIX}${writerId}`
  await call('pool.add_to_other_config', poolRef, staging, text)
  let outcome: WriteOutcome = 'written'
  await call('pool.remove_from_other_config', poolRef, POOL_CONFIG_KEY)
  try {
    await call('pool.add_to_other_config', poolRef, POOL_CONFIG_KEY, text)
  } catch (error) {
    // Another writer added its document between our remove and add: the main key holds a
    // whole document again, and writes that cross have no order anyway, so the last to
    // add wins. On any other failure the staging copy stays: it is what readers see.
    if (!isDuplicateKey(error)) throw error
    outcome = 'superseded'
  }
  await call('pool.remove_from_other_config', poolRef, staging)
  for (const [key, old] of stagingTexts(current)) {
    if (key !== staging && now - atOf(old) > STALE_STAGING_MS) await call('pool.remove_from_other_config', poolRef, key)
  }
  return outcome
}

/** The canonical text of a configuration, stamped with who writes it. */
export function encodePoolDocument(config: PoolConfig, writtenBy: WrittenBy): string {
  return encodePoolConfig({ ...config, writtenBy })
}

/** A unique staging suffix: who writes, when, and a random part. */
export function writerId(who: string, now = Date.now()): string {
  return `${who}:${now.toString(36)}:${Math.random().toString(36).slice(2, 8)}`
}
