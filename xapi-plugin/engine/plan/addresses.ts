// The bridge's addresses: add what is missing. We own only what we add, or what we added
// before; what we added and no longer want goes, once the rest is verified.

import { cidrText } from '../../../shared/addresses.ts'
import type { ApplyRequest } from '../../../shared/plugin-args.ts'
import type { BridgeRecord } from '../../../shared/results.ts'
import type { IpLink } from '../../kernel/ip.ts'
import { hasAddress, hasCidr } from '../observe.ts'
import { type Part, emptyPart } from './part.ts'

export function planAddresses(request: ApplyRequest, link: IpLink, record: BridgeRecord): Part<string> {
  const { bridge } = request
  const part = emptyPart<string>()
  const replacedInPlace: string[] = []
  for (const cidr of request.addresses) {
    const text = cidrText(cidr)
    const present = hasAddress(link, cidr.address, cidr.prefix)
    if (!present && cidr.family === 6) {
      // The kernel refuses an IPv6 address it has under another prefix: ours, with its old
      // prefix, goes just before the new one comes (one address cannot be made before broken).
      const old = record.addresses.find(r => r !== text && r.startsWith(`${cidr.address}/`) && hasCidr(link, r))
      if (old) {
        part.make.push({ action: 'remove-address', dev: bridge, cidr: old })
        replacedInPlace.push(old)
      }
    }
    if (!present) part.make.push({ action: 'add-address', dev: bridge, cidr: text })
    else part.unchanged.push({ what: 'address', value: `${text} dev ${bridge}` })
    if (!present || record.addresses.includes(text)) part.owned.push(text)
  }
  const wanted = request.addresses.map(cidrText)
  for (const text of record.addresses) {
    if (!wanted.includes(text) && !replacedInPlace.includes(text) && hasCidr(link, text)) {
      part.break.push({ action: 'remove-address', dev: bridge, cidr: text })
    }
  }
  return part
}
