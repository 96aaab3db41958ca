// vif-hotplug mode. xapi's vif script runs /etc/xapi.d/vif-hotplug inside udev,
// synchronously, after a VIF joins its bridge (`-action online`) and when it leaves
// (`-action remove`). That is the one dom0-local trigger on VIF plug, and it works with
// Xen Orchestra out of reach. So the hook returns at once and the work (apply and SR
// re-plug, or release) continues in a detached worker that talks to the local xapi.

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { invalidArgument } from '../../shared/errors.ts'
import { parseUuid } from '../../shared/plugin-args.ts'
import { applyUntilGatewayAnswers, vifAttachedHere } from './apply-until.ts'
import type { CallContext } from './context.ts'
import { CHAINED_HOOK } from '../runtime/layout.ts'
import { thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { isExecutable, onPath } from '../runtime/executables.ts'
import { run } from '../runtime/run.ts'
import { boundVif, readPoolBindings } from '../xapi/pool-bindings.ts'
import { plugSrsFor } from './plug-srs.ts'
import { release } from './release.ts'

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
 * hands the event to a detached worker and returns.
 */
export async function runHook(argv: string[], root: string, log: CallContext['log']): Promise<number> {
  const chained = join(root, CHAINED_HOOK)
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
  const [command, args] = workerCommand(root, process.execPath, [
    'hotplug-worker',
    `action=${event.action}`,
    `vif=${event.vif}`,
    `vm=${event.vm}`,
  ])
  const worker = spawn(command, args, { detached: true, stdio: 'ignore', env: process.env })
  worker.unref()
  log.log('info', 'vif-hotplug: worker started', { ...event, worker: worker.pid })
  return 0
}

/**
 * udev kills whatever its event handlers leave behind in its control group once the event
 * is handled, detached or not. Where systemd runs the host, the worker gets a scope of its
 * own (systemd-run --scope runs the command itself, in a new cgroup); elsewhere (tests,
 * a dom0 without systemd) a detached process is all there is.
 */
export function workerCommand(
  root: string,
  executable: string,
  args: string[],
  systemdRun = onPath('systemd-run'),
): [string, string[]] {
  if (systemdRun && existsSync(join(root, 'run/systemd/system'))) {
    return ['systemd-run', ['--scope', '--quiet', `--unit=vif-ip-binder-hotplug-${process.pid}`, executable, ...args]]
  }
  return [executable, args]
}

export interface HotplugOutcome {
  event: HotplugEvent
  bound: boolean
  bridge?: string
  changes?: number
  srs?: unknown[]
}

/** The detached worker: what the hook's event means for this host. */
export async function handleHotplug(event: HotplugEvent, ctx: CallContext): Promise<HotplugOutcome> {
  return withLocalXapi(ctx.env.root, ctx.session, async xapi => {
    const pool = await readPoolBindings(xapi)
    if (!pool) return { event, bound: false }
    const host = await thisHost(ctx.env.root, xapi)
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
      changes = (await applyUntilGatewayAnswers(bound.request, ctx, attached)).changes.length
      ctx.log.log('info', 'vif-hotplug online: applied', { ...fields, changes })
    } catch (error) {
      failure = error
    }
    // The SRs have probes of their own: they are worth trying even if the gateway never
    // answered (storage on the bound network itself needs no gateway).
    const srs = bound.binding.srs.length ? await plugSrsFor(xapi, host, bound.binding.srs, ctx) : []
    if (failure) throw failure
    return { event, bound: true, bridge: bound.bridge, changes, srs }
  })
}
