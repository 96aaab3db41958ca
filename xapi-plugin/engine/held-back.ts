// A change reverted unconfirmed is held back (State.heldBack): the pool's configuration may
// still hold its arguments, and the hook, reconcile and boot must not re-apply, with no
// window, what cut the host off. Only the decision that made it, taken again, lifts it.

import { type PluginArgs, canonicalArgs } from '../../shared/plugin-args.ts'
import type { State } from './state.ts'

/** State.heldBack's `reverted` for a release that was reverted: the bridge had no arguments left. */
export const RELEASE_REVERTED = 'released'

export function holdBack(
  state: State,
  bridge: string,
  reverted: PluginArgs | undefined,
  kept: PluginArgs | undefined,
): void {
  // Released in the window (configure confirm=N dropped its binding): the release is what reverted.
  const text = reverted ? canonicalArgs(reverted) : kept && RELEASE_REVERTED
  if (!text || (kept && canonicalArgs(kept) === text)) return
  // One held already stays held too: the pool's configuration may still hold either change.
  const earlier = heldTexts(state.heldBack?.[bridge]).filter(t => t !== text)
  hold(state, bridge, [text, ...earlier], kept ?? null)
}

/** Holds these reverted arguments (none: lifts the hold), `instead` applied in their place. */
function hold(state: State, bridge: string, texts: string[], instead: PluginArgs | null): void {
  const [reverted, ...also] = texts
  if (reverted === undefined) delete state.heldBack?.[bridge]
  else state.heldBack = { ...state.heldBack, [bridge]: { reverted, instead, ...(also.length ? { also } : {}) } }
}

type Hold = NonNullable<State['heldBack']>[string]

const heldTexts = (held: Hold | undefined): string[] => (held ? [held.reverted, ...(held.also ?? [])] : [])

/** A release from the pool's configuration that was reverted unconfirmed: reconcile keeps the bridge. */
export const releaseHeldBack = (state: State, bridge: string): boolean =>
  heldTexts(state.heldBack?.[bridge]).includes(RELEASE_REVERTED)

/**
 * When these arguments for this bridge are a reverted change (see State.heldBack): what the
 * bridge had before it (null: nothing). Undefined when they are not.
 */
export function heldBackFor(state: State, bridge: string, args: PluginArgs): PluginArgs | null | undefined {
  const held = state.heldBack?.[bridge]
  return held && heldTexts(held).includes(canonicalArgs(args)) ? held.instead : undefined
}

/**
 * An apply of these arguments (not a dry run) and the hold on its bridge. Explicit: the
 * reverted arguments themselves lift it (the admin's or Xen Orchestra's decision again);
 * others only become what the pool's configuration gets instead, which still holds the
 * reverted ones (an admin recovering by hand must not have the next plug cut the host off).
 * From the pool: other arguments mean the configuration no longer holds the reverted ones.
 */
export function settleHoldOnApply(state: State, bridge: string, args: PluginArgs, fromPool = false): void {
  const held = state.heldBack?.[bridge]
  if (!held) return
  const text = canonicalArgs(args)
  const left = heldTexts(held).filter(t => t !== text)
  if (left.length < heldTexts(held).length && fromPool) return
  hold(state, bridge, fromPool ? [] : left, args)
}

/** A release of the bridge: one that was reverted is the decision again, or the bridge is gone from the configuration. */
export function settleHoldOnRelease(state: State, bridge: string): void {
  const texts = heldTexts(state.heldBack?.[bridge])
  if (texts.includes(RELEASE_REVERTED))
    hold(
      state,
      bridge,
      texts.filter(t => t !== RELEASE_REVERTED),
      null,
    )
}

/**
 * When a pool-wide hold (shared/pool-holds.ts) is on these arguments: what this host's bridge
 * keeps instead (null: nothing), as for a hold of its own. Undefined when the bridge holds
 * these very arguments already: applying them changes nothing.
 */
export function poolHeldBackFor(state: State, bridge: string, args: PluginArgs): PluginArgs | null | undefined {
  const record = state.bridges[bridge]
  if (record && canonicalArgs(record.desired) === canonicalArgs(args)) return undefined
  return record?.desired ?? null
}
