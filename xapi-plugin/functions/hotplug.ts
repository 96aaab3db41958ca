// vif-hotplug mode. xapi's vif script runs /etc/xapi.d/vif-hotplug inside udev,
// synchronously, after a VIF joins its bridge (`-action online`) and when it leaves
// (`-action remove`). That is the one dom0-local trigger on VIF plug, and it works with
// Xen Orchestra out of reach. So the hook returns at once and the work (apply and SR
// re-plug, or release) continues in a detached worker that talks to the local xapi.

import { recordPendingHolds } from '../engine/pool-holds.ts'
import { join } from 'node:path'
import { invalidArgument } from '../../shared/errors.ts'
import { type Pause, describePause } from '../../shared/pause.ts'
import { readPause } from '../runtime/pause-file.ts'
import { type PluginArgs, parseApplyArgs, parseUuid } from '../../shared/plugin-args.ts'
import { type HookIndex, readHookIndex } from '../engine/hook-index.ts'
import type { Environment } from '../runtime/environment.ts'
import type { Logger } from '../runtime/log.ts'
import { apply } from './apply.ts'
import { createContext } from './context.ts'
import { readPoolForIndex, refreshHookIndex } from './refresh-index.ts'
import { applyUntilGatewayAnswers, poolOptions, vifAttachedHere } from './apply-until.ts'
import type { CallContext } from './context.ts'
import { CHAINED_HOOK } from '../runtime/layout.ts'
import { type HostIdentity, type LocalXapi, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { isExecutable } from '../runtime/executables.ts'
import { startDetached } from '../runtime/detached.ts'
import { run } from '../runtime/run.ts'
import { type PoolBindings, boundVif } from '../xapi/pool-bindings.ts'
import { plugSrsFor } from './plug-srs.ts'
import { release } from './release.ts'
import { verifyDefaultRoutes } from './verify-routes.ts'

/** How long the hook itself waits for the host lock before leaving the binding to its worker. */
const HOOK_LOCK_WAIT_S = 2

export interface HotplugEvent {
  action: 'online' | 'remove'
  vif: string
  vm: string
}

/** `-action online -vifuuid U -vmuuid V`, in any order, as Xen's vif script passes them. */
export function parseHotplugArgv(argv: string[]): HotplugEvent {
  const values: Record<string, string> = {}
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!
    const value = argv[i + 1]
    if (!['-action', '-vifuuid', '-vmuuid'].includes(flag) || value === undefined) {
      throw invalidArgument(
        `vif-hotplug: unexpected ${JSON.stringify(flag)} (expected -action, -vifuuid, -vmuuid)`,
        flag,
      )
    }
    values[flag] = value
  }
  const action = values['-action']
  if (action !== 'online' && action !== 'remove')
    throw invalidArgument(`vif-hotplug: -action ${JSON.stringify(action)} is not online or remove`, String(action))
  return {
    action,
    vif: parseUuid(values['-vifuuid'] ?? '', '-vifuuid'),
    vm: parseUuid(values['-vmuuid'] ?? '', '-vmuuid'),
  }
}

/**
 * The hook itself: runs the hook that was there before ours (install chained it), then
 * decides from the local index (engine/hook-index.ts) when it has a fresh one:
 *   - a VM no binding names, or a VIF of a bound VM on another network: nothing to do, no
 *     worker, no xapi;
 *   - a bound VIF plugging: the hook binds the addresses, mirror, routes, sysctls and the
 *     default route of a family dom0 has none of itself, from the index, in one `ip -batch`; then it
 *     starts the worker for what may wait (asking the gateway, undoing a silent one's
 *     route, SR re-plug, verification against xapi), so that the worker's start-up does
 *     not compete with the binding for the CPU;
 *   - anything else (no index, an unknown VIF, a removal): the worker asks xapi.
 */
export async function runHook(argv: string[], env: Environment, log: Logger): Promise<number> {
  const chained = join(env.root, CHAINED_HOOK)
  if (isExecutable(chained)) {
    const result = await run(chained, argv, { timeoutMs: 30_000 })
    if (result.exitCode !== 0)
      log.log('warning', 'chained vif-hotplug failed', {
        hook: chained,
        exitCode: result.exitCode,
        stderr: result.stderr,
      })
  }
  const event = parseHotplugArgv(argv)
  // Paused (an admin at work): the hook does nothing at all, index or not.
  const paused = readPause(env.stateDir)
  if (paused) {
    log.log('info', `vif-hotplug ${event.action}: ${describePause(paused)}: nothing done`, { ...event })
    return 0
  }
  const index = readHookIndex(env.stateDir)
  const bridge = lookUp(index, event)
  if (bridge === null) return 0
  const request = bridge === undefined ? undefined : index?.requests[bridge]
  if (request && event.action === 'online') {
    // udev waits for the hook: a lock held elsewhere (a call, a worker asking a gateway)
    // is not waited for long; the worker then binds everything, as with no index.
    await bindFromIndex(request, index?.holds, createContext({ ...env, lockWaitSeconds: HOOK_LOCK_WAIT_S }, log))
    startWorker(env.root, event, bridge)
    return 0
  }
  const worker = startWorker(env.root, event)
  log.log('info', 'vif-hotplug: worker started', { ...event, worker })
  return 0
}

/** null: nothing to do on this host; a bridge: a bound VIF; undefined: only xapi knows. */
function lookUp(index: HookIndex | undefined, event: HotplugEvent): string | null | undefined {
  if (!index) return undefined
  const vm = index.vms[event.vm]
  return vm ? vm.vifs[event.vif] : null
}

function startWorker(root: string, event: HotplugEvent, bridge?: string): number | undefined {
  const words = ['hotplug-worker', `action=${event.action}`, `vif=${event.vif}`, `vm=${event.vm}`]
  return startDetached(root, bridge ? [...words, `bridge=${bridge}`] : words)
}

/** What the hook does itself for a bound VIF; its worker does the rest and retries. */
async function bindFromIndex(args: PluginArgs, poolHolds: HookIndex['holds'], ctx: CallContext): Promise<void> {
  try {
    await apply(parseApplyArgs(args), ctx, { prepareOnly: true, fromPool: true, poolHolds })
  } catch (error) {
    ctx.log.log('warning', 'vif-hotplug: binding from the index failed, the worker takes over', {
      bridge: args.bridge,
      error: (error as Error).message,
    })
  }
}

export interface HotplugOutcome {
  event: HotplugEvent
  bound: boolean
  bridge?: string
  changes?: number
  srs?: unknown[]
  paused?: Pause
}

/** The detached worker: what the hook's event means for this host. */
export async function handleHotplug(
  event: HotplugEvent,
  ctx: CallContext,
  indexedBridge?: string,
): Promise<HotplugOutcome> {
  // Paused since the hook started this worker: still nothing to do.
  const paused = readPause(ctx.env.stateDir)
  if (paused) {
    ctx.log.log('info', `vif-hotplug ${event.action}: ${describePause(paused)}: nothing done`, { ...event })
    return { event, bound: false, paused }
  }
  // Started by the hook's fast path: its default route's gateway asked first (the route
  // undone if silent), then the rest of the binding from the index; xapi only then, to
  // confirm (and re-apply, retry, plug SRs, or release).
  if (indexedBridge) await applyFromIndex(indexedBridge, ctx)
  // A revert the hook itself ran left its pool-wide hold to this worker.
  await recordPendingHolds(ctx)
  return withLocalXapi(ctx.env.root, ctx.session, async xapi => {
    // The index written at the end is from this read: ordered by it (refresh-index.ts).
    const read = await readPoolForIndex(xapi, ctx)
    const host = await thisHost(ctx.env.root, xapi)
    try {
      return read.pool ? await handleBound(event, xapi, read.pool, host, ctx) : { event, bound: false }
    } finally {
      await refreshHookIndex(xapi, host, read, ctx)
    }
  })
}

async function applyFromIndex(bridge: string, ctx: CallContext): Promise<void> {
  const index = readHookIndex(ctx.env.stateDir)
  const args = index?.requests[bridge]
  if (!args) return
  try {
    const request = parseApplyArgs(args)
    // A silent gateway: the retries with xapi's word on the VIF take over at once.
    if ((await verifyDefaultRoutes(request, ctx)).some(c => !c.reachable)) return
    await apply(request, ctx, { fromPool: true, poolHolds: index.holds })
  } catch (error) {
    ctx.log.log('info', 'vif-hotplug: first apply from the index failed, asking xapi', {
      bridge,
      error: (error as Error).message,
    })
  }
}

/** The event, for a pool with bindings: is it a bound VIF, and what does it need now? */
async function handleBound(
  event: HotplugEvent,
  xapi: LocalXapi,
  pool: PoolBindings,
  host: HostIdentity,
  ctx: CallContext,
): Promise<HotplugOutcome> {
  const vifRef = await xapi.call<string>('VIF.get_by_uuid', event.vif)
  const network = await xapi.call<string>('VIF.get_network', vifRef)
  const bound = await boundVif(xapi, pool, event.vm, network, host.ref)
  if (!bound) return { event, bound: false }
  const fields = { vm: event.vm, vif: event.vif, bridge: bound.bridge }
  // Workers of a reboot's remove and online events race each other: each acts on the
  // VIF as it is now, so the last state wins whatever order they run in.
  const attached = () => vifAttachedHere(xapi, vifRef, bound.vmRef, host.ref)
  if (event.action === 'remove') {
    if (await attached()) {
      ctx.log.log('info', 'vif-hotplug remove: the VIF is plugged again, nothing to release', fields)
      return { event, bound: true, bridge: bound.bridge, changes: 0 }
    }
    const released = await release({ bridge: bound.bridge, dryRun: false }, ctx)
    ctx.log.log('info', 'vif-hotplug remove: released', { ...fields, changes: released.changes.length })
    return { event, bound: true, bridge: bound.bridge, changes: released.changes.length }
  }
  if (!(await attached())) {
    ctx.log.log('info', 'vif-hotplug online: the VIF is no longer plugged here, nothing to apply', fields)
    return { event, bound: true, bridge: bound.bridge, changes: 0 }
  }
  let changes = 0
  let failure: unknown
  try {
    changes = (await applyUntilGatewayAnswers(bound.request, ctx, attached, undefined, poolOptions(bound))).changes
      .length
    ctx.log.log('info', 'vif-hotplug online: applied', { ...fields, changes })
  } catch (error) {
    failure = error
  }
  // The SRs have probes of their own: they are worth trying even if the gateway never
  // answered (storage on the bound network itself needs no gateway).
  const srs = bound.binding.srs.length ? await plugSrsFor(xapi, host, bound.binding.srs, ctx) : []
  if (failure) throw failure
  return { event, bound: true, bridge: bound.bridge, changes, srs }
}
