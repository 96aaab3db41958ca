// Arguments that name things through xapi rather than by their dom0 name: `network=<uuid>`
// instead of `bridge`, and `management-address` without `management-bridge` (the bridge of
// this host's management PIF). Resolved here, through the local xapi, into the plain
// arguments apply and release take. Everything else is validated before xapi is asked.

import { BinderError, ErrorCode, invalidArgument } from '../../shared/errors.ts'
import { type PluginArgs, parseApplyArgs, parseReleaseArgs, parseUuid } from '../../shared/plugin-args.ts'
import type { CallContext } from './context.ts'
import { refByUuid, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { managementBridge } from '../xapi/pool-bindings.ts'

// Stand-ins while checking the other arguments: valid names, distinct from each other.
const RESOLVING_BRIDGE = 'vib-resolving'
const RESOLVING_MANAGEMENT = 'vib-resolving-m'

export async function resolveXapiArgs(
  fn: 'apply' | 'release',
  args: PluginArgs,
  ctx: CallContext,
): Promise<PluginArgs> {
  const byNetwork = args.network !== undefined
  const findManagement = fn === 'apply' && !!args['management-address'] && !args['management-bridge']
  if (!byNetwork && !findManagement) return args

  const { network: networkText, ...rest } = args
  if (byNetwork && rest.bridge !== undefined)
    throw invalidArgument(`${fn}: give bridge or network, not both`, 'network')
  const networkUuid = byNetwork ? parseUuid(networkText ?? '', 'network') : undefined
  const check = fn === 'apply' ? parseApplyArgs : parseReleaseArgs
  check({
    ...rest,
    ...(byNetwork ? { bridge: RESOLVING_BRIDGE } : {}),
    ...(findManagement ? { 'management-bridge': RESOLVING_MANAGEMENT } : {}),
  })

  const resolving = withLocalXapi(ctx.env.root, ctx.session, async xapi => {
    const resolved = { ...rest }
    if (networkUuid) {
      const ref = await refByUuid(
        xapi,
        'network',
        networkUuid,
        () =>
          new BinderError(ErrorCode.NO_SUCH_DEVICE, `network: no network with UUID ${networkUuid} in this pool`, [
            networkUuid,
          ]),
      )
      resolved.bridge = await xapi.call<string>('network.get_bridge', ref)
    }
    if (findManagement) {
      const host = await thisHost(ctx.env.root, xapi)
      const bridge = await managementBridge(xapi, host.ref)
      if (!bridge)
        throw new BinderError(
          ErrorCode.NO_SUCH_DEVICE,
          'management-address: this host has no management PIF to mirror it on',
          ['management-bridge'],
        )
      resolved['management-bridge'] = bridge
    }
    return resolved
  })
  // In an outage xapi may not answer: say how to do without it rather than only that it failed.
  return resolving.catch((error: unknown) => {
    if (!(findManagement && error instanceof BinderError && error.code === ErrorCode.XAPI_UNREACHABLE)) throw error
    throw new BinderError(
      ErrorCode.XAPI_UNREACHABLE,
      `management-address: the management bridge is looked up in xapi, which did not answer; pass management-bridge=<bridge> (xenbr0 on most hosts): ${error.message}`,
      ['management-bridge', ...error.details],
    )
  })
}
