// apply-many refuse-changes=true: Xen Orchestra, after a reconnection, sends a host every
// binding it wants without first asking what the host holds. Binding a bridge that holds
// nothing, or re-applying what it holds, is safe without a window; replacing what it holds,
// or applying again a change that was reverted unconfirmed, could cut the host off again.
// Those are refused here, changing nothing, and the caller applies them with a window.

import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type ApplyRequest, canonicalArgs, encodeApplyArgs } from '../../shared/plugin-args.ts'
import { heldBackFor } from './held-back.ts'
import type { State } from './state.ts'

/** Why applying `request` without a window is refused, or undefined when it is not. */
export function refusedChange(state: State, request: ApplyRequest): BinderError | undefined {
  const { bridge } = request
  const args = encodeApplyArgs({ ...request, dryRun: false })
  const record = state.bridges[bridge]
  const held = record ? JSON.stringify(record.desired) : ''
  if (heldBackFor(state, bridge, args) !== undefined || (record && state.lastRevert?.bridges.includes(bridge)))
    return refusal(bridge, `the last change of bridge ${bridge} was reverted unconfirmed`, held, 'reverted')
  if (record && canonicalArgs(record.desired) !== canonicalArgs(args))
    return refusal(bridge, `bridge ${bridge} holds other arguments`, held, 'changed')
  return undefined
}

function refusal(bridge: string, why: string, held: string, reason: 'reverted' | 'changed'): BinderError {
  return new BinderError(ErrorCode.NEEDS_CONFIRMATION, `${why}: apply it with confirm=N`, [bridge, reason, held])
}
