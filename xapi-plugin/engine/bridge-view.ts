// The opening apply and release share: this bridge's record in the host's state, and one
// kernel read of everything that record and the desired binding touch.

import type { ApplyRequest } from '../../shared/plugin-args.ts'
import type { BridgeRecord } from '../../shared/results.ts'
import type { KernelRead } from '../kernel/ip-batch.ts'
import { type Observed, observe } from './observe.ts'
import { desiredSysctls } from './plan.ts'
import type { State } from './state.ts'

export interface BridgeView {
  state: State
  record: BridgeRecord | undefined
  observed: Observed
}

/** The sysctls to read: those the record owns, and those the desired binding wants. */
export function sysctlPathsFor(desired: ApplyRequest | undefined, record: BridgeRecord | undefined): string[] {
  const paths = new Set(record?.sysctls.map(s => s.path))
  if (desired) for (const s of desiredSysctls(desired)) paths.add(s.path)
  return [...paths]
}

export async function viewBridge(
  state: State,
  bridge: string,
  managementBridge: string | undefined,
  desired?: ApplyRequest,
  kernel?: KernelRead,
): Promise<BridgeView> {
  const record = state.bridges[bridge]
  const observed = await observe(bridge, managementBridge, sysctlPathsFor(desired, record), kernel)
  return { state, record, observed }
}
