// Sysctls: remember the value we found the first time, give it back when no longer wanted.

import { BinderError, ErrorCode } from '../../../shared/errors.ts'
import type { ApplyRequest } from '../../../shared/plugin-args.ts'
import type { BridgeRecord, OwnedSysctl } from '../../../shared/results.ts'
import { sysctlPath } from '../../kernel/sysctl.ts'
import type { Observed } from '../observe.ts'
import { type Part, emptyPart } from './part.ts'

export function desiredSysctls(request: ApplyRequest): { path: string; value: string }[] {
  const wanted: { path: string; value: string }[] = []
  const hasFamily = (family: number) => request.addresses.some(a => a.family === family)
  // Without it, removing the first IPv4 address of a subnet takes every other address of
  // that subnet with it, ours included: changing dom0's address would drop it entirely.
  if (hasFamily(4)) wanted.push({ path: sysctlPath(4, request.bridge, 'promote_secondaries'), value: '1' })
  if (request.proxyArp) wanted.push({ path: sysctlPath(4, request.bridge, 'proxy_arp'), value: '1' })
  if (request.forwarding) {
    wanted.push({ path: sysctlPath(4, request.bridge, 'forwarding'), value: '1' })
    if (hasFamily(6)) wanted.push({ path: sysctlPath(6, request.bridge, 'forwarding'), value: '1' })
  }
  return wanted
}

export function planSysctls(request: ApplyRequest, observed: Observed, record: BridgeRecord): Part<OwnedSysctl> {
  const part = emptyPart<OwnedSysctl>()
  const wanted = desiredSysctls(request)
  for (const { path, value } of wanted) {
    const current = observed.sysctls[path]
    const recorded = record.sysctls.find(s => s.path === path)
    if (current === undefined) throw new BinderError(ErrorCode.NO_SUCH_DEVICE, `${path} does not exist`, [path])
    if (current !== value) part.make.push({ action: 'set-sysctl', path, value, previous: current })
    else part.unchanged.push({ what: 'sysctl', value: `${path}=${value}` })
    if (current !== value || recorded) part.owned.push({ path, value, previous: recorded?.previous ?? current })
  }
  for (const owned of record.sysctls) {
    if (!wanted.some(w => w.path === owned.path) && observed.sysctls[owned.path] !== undefined) {
      part.break.push({ action: 'set-sysctl', path: owned.path, value: owned.previous, previous: owned.value })
    }
  }
  return part
}
