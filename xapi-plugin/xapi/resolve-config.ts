// A bindings document checked against this pool through the local xapi, as XO checks it
// against its cache: each VM and network (UUID or exact name) must exist once, the VM must
// have a VIF on the network, each SR must exist. Every refusal has a code and names the
// binding and the value.

import {
  type Binding,
  type PoolBinding,
  bindingLabel,
  rejectClaimedTwice,
  toPoolBinding,
} from '../../shared/binding.ts'
import { BinderError, ErrorCode, invalidArgument, isUnknownObject } from '../../shared/errors.ts'
import type { LocalXapi } from './local-xapi.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

interface Named {
  ref: string
  uuid: string
  name: string
}

async function byUuid(xapi: LocalXapi, cls: string, uuid: string): Promise<string | undefined> {
  try {
    return await xapi.call<string>(`${cls}.get_by_uuid`, uuid.toLowerCase())
  } catch (error) {
    if (isUnknownObject(error)) return undefined
    throw error
  }
}

/** One object by UUID or exact name label; `keep` filters out what cannot be meant. */
async function findOne(
  xapi: LocalXapi,
  cls: 'VM' | 'network',
  text: string,
  keep: (record: Record<string, unknown>) => boolean,
): Promise<Named[]> {
  const refs = UUID.test(text) ? [await byUuid(xapi, cls, text)].filter((r): r is string => !!r) : []
  const candidates = refs.length ? refs : await xapi.call<string[]>(`${cls}.get_by_name_label`, text)
  const found: Named[] = []
  for (const ref of candidates) {
    const record = await xapi.call<Record<string, unknown>>(`${cls}.get_record`, ref)
    if (keep(record)) found.push({ ref, uuid: String(record.uuid), name: String(record.name_label) })
  }
  return found
}

function one(found: Named[], what: string, text: string, label: string, code: string): Named {
  if (found.length === 1) return found[0]!
  if (found.length > 1) {
    throw invalidArgument(
      `${label}: ${what} name ${JSON.stringify(text)} is ambiguous: use one of the UUIDs ${found.map(f => f.uuid).join(', ')}`,
      text,
    )
  }
  throw new BinderError(
    code,
    `${label}: ${what} ${JSON.stringify(text)} not found in this pool (give its UUID or its exact name)`,
    [text],
  )
}

const isGuest = (vm: Record<string, unknown>) => !vm.is_a_template && !vm.is_a_snapshot && !vm.is_control_domain

async function resolveOne(xapi: LocalXapi, binding: Binding, index: number): Promise<PoolBinding> {
  const label = bindingLabel(index, binding)
  const vm = one(await findOne(xapi, 'VM', binding.vm, isGuest), 'VM', binding.vm, label, ErrorCode.NO_SUCH_VM)
  const network = one(
    await findOne(xapi, 'network', binding.network, () => true),
    'network',
    binding.network,
    label,
    ErrorCode.NO_SUCH_NETWORK,
  )
  const vifNetworks = await Promise.all(
    (await xapi.call<string[]>('VM.get_VIFs', vm.ref)).map(vif => xapi.call<string>('VIF.get_network', vif)),
  )
  if (!vifNetworks.includes(network.ref)) {
    throw invalidArgument(
      `${label}: VM ${JSON.stringify(vm.name)} (${vm.uuid}) has no VIF on network ${JSON.stringify(network.name)} (${network.uuid})`,
      binding.network,
    )
  }
  for (const { sr } of binding.srs) {
    if (!(await byUuid(xapi, 'SR', sr)))
      throw new BinderError(ErrorCode.NO_SUCH_SR, `${label}: SR ${sr} not found in this pool`, [sr])
  }
  return toPoolBinding(binding, vm.uuid, network.uuid)
}

/** The pool form of parsed bindings, every reference checked; throws on the first problem. */
export async function resolveAgainstPool(xapi: LocalXapi, bindings: Binding[]): Promise<PoolBinding[]> {
  const resolved: PoolBinding[] = []
  for (const [index, binding] of bindings.entries()) resolved.push(await resolveOne(xapi, binding, index))
  // Again on identities: a network named in one binding and given by UUID in another is one.
  rejectClaimedTwice(bindings.map((b, i) => ({ ...b, vm: resolved[i]!.vm, network: resolved[i]!.network })))
  return resolved
}
