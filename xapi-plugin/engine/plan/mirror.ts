// The management mirror: the same address as a host route (/32 or /128) on the management
// bridge, so the console and statistics links xapi hands out keep working.

import { hostPrefix } from '../../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../../shared/errors.ts'
import type { ApplyRequest } from '../../../shared/plugin-args.ts'
import type { BridgeRecord } from '../../../shared/results.ts'
import { type Observed, hasAddress, hasCidr } from '../observe.ts'
import { type Part, emptyPart } from './part.ts'

export type Mirror = BridgeRecord['mirrors'][number]

const sameMirror = (a: Mirror, b: Mirror) => a.dev === b.dev && a.cidr === b.cidr

export function planMirror(request: ApplyRequest, observed: Observed, record: BridgeRecord): Part<Mirror> {
  const part = emptyPart<Mirror>()
  if (request.management) {
    const { address, family, bridge: dev } = request.management
    if (!observed.management) {
      throw new BinderError(
        ErrorCode.NO_SUCH_DEVICE,
        `management bridge ${JSON.stringify(dev)} does not exist on this host`,
        [dev],
      )
    }
    const prefix = hostPrefix(family)
    const mirror = { dev, cidr: `${address}/${prefix}` }
    const present = hasAddress(observed.management, address, prefix)
    if (!present) part.make.push({ action: 'add-address', ...mirror })
    else part.unchanged.push({ what: 'address', value: `${mirror.cidr} dev ${dev}` })
    if (!present || record.mirrors.some(m => sameMirror(m, mirror))) part.owned.push(mirror)
  }
  for (const mirror of record.mirrors) {
    if (!part.owned.some(m => sameMirror(m, mirror)) && mayStillHold(mirror, observed)) {
      part.break.push({ action: 'remove-address', dev: mirror.dev, cidr: mirror.cidr })
    }
  }
  return part
}

/**
 * Whether a mirror may still be on its bridge. Only one management bridge is observed per
 * call; a mirror on another one is assumed present (its removal is tolerant).
 */
export function mayStillHold(mirror: Mirror, observed: Observed): boolean {
  return observed.management?.ifname !== mirror.dev || hasCidr(observed.management, mirror.cidr)
}
