// plug-srs: re-attach network SRs as soon as their server answers through the firewall.
// Each SR waits for its own server, in parallel with the others; the probe runs fast
// while the firewall is likely coming up, then backs off. Only this host's PBDs that are
// not attached are plugged, and every SR reports its own outcome.

import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { type PlugSrsRequest, encodePlugSrsArgs, parsePlugSrsArgs } from '../../shared/plugin-args.ts'
import { type Probe, type SrProbe, probeText, srProbe } from '../../shared/probes.ts'
import type { CallContext } from './context.ts'
import { type HostIdentity, type LocalXapi, XapiError, refByUuid, thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { probeAny } from '../kernel/probe.ts'
import type { AutoStartStep, ProbeOutcome, SrOutcome } from '../../shared/results.ts'
import { readPoolBindings } from '../xapi/pool-bindings.ts'
import { startHeldBack } from './auto-start.ts'
import { clearAlerts, raiseAlert } from '../engine/alerts.ts'

/** Probes that may wait for an answer at the same time (each gives up after its timeout). */
export const PROBES_IN_FLIGHT = 4

/** 250 ms between the first tries (the firewall is booting), then ×1.5 up to 2 s. */
export function probeDelayMs(attempt: number): number {
  const FAST_TRIES = 20
  if (attempt <= FAST_TRIES) return 250
  return Math.min(2000, Math.round(250 * 1.5 ** (attempt - FAST_TRIES)))
}

interface PbdRecord {
  uuid: string
  host: string
  currently_attached: boolean
  device_config: Record<string, string>
}

interface Target {
  uuid: string
  name: string
  type: string
  probe: SrProbe
  pbds: (PbdRecord & { ref: string })[]
}

async function resolveTarget(
  xapi: LocalXapi,
  hostRef: string,
  uuid: string,
  probes: Record<string, Probe>,
): Promise<Target> {
  const ref = await refByUuid(
    xapi,
    'SR',
    uuid,
    () => new BinderError(ErrorCode.NO_SUCH_SR, `srs: no SR with UUID ${uuid} in this pool`, [uuid]),
  )
  const sr = await xapi.call<{ name_label: string; type: string; PBDs: string[] }>('SR.get_record', ref)
  const pbds: Target['pbds'] = []
  for (const pbdRef of sr.PBDs) {
    const pbd = await xapi.call<PbdRecord>('PBD.get_record', pbdRef)
    if (pbd.host === hostRef) pbds.push({ ...pbd, ref: pbdRef })
  }
  const given = probes[uuid]
  const probe: SrProbe = given ? { kind: 'network', probes: [given] } : srProbe(sr.type, pbds[0]?.device_config ?? {})
  return { uuid, name: sr.name_label, type: sr.type, probe, pbds }
}

/**
 * Starts a probe every probeDelayMs, without waiting for the previous one to end: a
 * firewall that silently drops makes each probe wait out its timeout, and sequential
 * probes would then run only every 1.25 s. At most PROBES_IN_FLIGHT at once.
 */
async function waitForServer(probes: Probe[], deadline: number): Promise<ProbeOutcome> {
  const started = Date.now()
  const target = probes.map(probeText).join(', ')
  return new Promise(resolve => {
    let attempts = 0
    let inFlight = 0
    let lastError = ''
    let done = false
    let timer: NodeJS.Timeout | undefined
    const finish = (reachable: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      const outcome: ProbeOutcome = { target, reachable, attempts, elapsedMs: Date.now() - started }
      resolve(reachable ? outcome : { ...outcome, error: lastError })
    }
    const launch = () => {
      if (done) return
      if (Date.now() >= deadline) {
        if (inFlight === 0) finish(false)
        return
      }
      if (inFlight < PROBES_IN_FLIGHT) {
        attempts++
        inFlight++
        void probeAny(probes).then(answer => {
          inFlight--
          if (answer.ok) return finish(true)
          lastError = answer.error
          if (inFlight === 0 && Date.now() + probeDelayMs(attempts) >= deadline) finish(false)
        })
      }
      timer = setTimeout(launch, probeDelayMs(attempts))
    }
    launch()
  })
}

async function plugTarget(xapi: LocalXapi, target: Target, deadline: number): Promise<SrOutcome> {
  const result: SrOutcome = {
    sr: target.uuid,
    name: target.name,
    storage: target.probe.kind,
    ok: true,
    probe: null,
    pbds: [],
  }
  const detached = target.pbds.filter(p => !p.currently_attached)
  for (const pbd of target.pbds.filter(p => p.currently_attached)) {
    result.pbds.push({ pbd: pbd.uuid, outcome: 'already-attached', elapsedMs: 0 })
  }
  if (target.probe.kind === 'unknown')
    result.problem = `${target.probe.reason}: tell plug-srs how to probe it (probes=<sr>=tcp:<host>:<port>)`
  if (detached.length === 0) return result
  const probes = target.probe.kind === 'local' ? [] : target.probe.probes
  if (probes.length) {
    result.probe = await waitForServer(probes, deadline)
    if (!result.probe.reachable) {
      result.ok = false
      for (const pbd of detached) result.pbds.push({ pbd: pbd.uuid, outcome: 'unreachable', elapsedMs: 0 })
      return result
    }
  }
  for (const pbd of detached) {
    const started = Date.now()
    try {
      if (await xapi.call<boolean>('PBD.get_currently_attached', pbd.ref)) {
        result.pbds.push({ pbd: pbd.uuid, outcome: 'already-attached', elapsedMs: 0 })
        continue
      }
      await xapi.callSlow(Math.max(deadline - Date.now(), 30_000), 'PBD.plug', pbd.ref)
      result.pbds.push({ pbd: pbd.uuid, outcome: 'plugged', elapsedMs: Date.now() - started })
    } catch (error) {
      result.ok = false
      const description = error instanceof XapiError ? [error.code, ...error.params] : [(error as Error).message]
      result.pbds.push({ pbd: pbd.uuid, outcome: 'failed', error: description, elapsedMs: Date.now() - started })
    }
  }
  return result
}

/** plug-srs over an open connection, for callers that already hold one. */
export async function plugSrsWith(
  xapi: LocalXapi,
  host: HostIdentity,
  request: PlugSrsRequest,
  ctx: CallContext,
): Promise<SrOutcome[]> {
  const deadline = Date.now() + request.timeoutSeconds * 1000
  // Every SR is resolved before any waiting starts: a typo fails the call at once.
  const targets: Target[] = []
  for (const uuid of request.srs) targets.push(await resolveTarget(xapi, host.ref, uuid, request.probes))
  const srs = await Promise.all(targets.map(target => plugTarget(xapi, target, deadline)))
  for (const sr of srs) {
    ctx.log.log(sr.ok && !sr.problem ? 'info' : 'warning', 'plug-srs', {
      sr: sr.sr,
      name: sr.name,
      probe: sr.probe,
      pbds: sr.pbds,
      problem: sr.problem,
    })
    await alertDetached(xapi, sr, request.timeoutSeconds, ctx)
  }
  return srs
}

/** An SR still detached after the wait goes where admins look; one attached again is cleared. */
async function alertDetached(xapi: LocalXapi, sr: SrOutcome, waited: number, ctx: CallContext): Promise<void> {
  const detached = sr.pbds.filter(p => p.outcome === 'unreachable' || p.outcome === 'failed')
  if (detached.length === 0) {
    await clearAlerts(ctx, ['srs-detached'], sr.sr, xapi)
    return
  }
  const why = sr.probe && !sr.probe.reachable ? `${sr.probe.target} did not answer` : detached[0]!.error?.join(' ')
  const body = `SR ${JSON.stringify(sr.name)} (${sr.sr}) is still detached from this host after ${waited} s: ${why}`
  await raiseAlert(ctx, { cause: 'srs-detached', subject: sr.sr, body }, xapi)
}

export async function plugSrs(
  request: PlugSrsRequest,
  ctx: CallContext,
): Promise<{ host: string; srs: SrOutcome[]; autoStarted: AutoStartStep[] }> {
  return withLocalXapi(ctx.env.root, ctx.session, async xapi => {
    const host = await thisHost(ctx.env.root, xapi)
    const srs = await plugSrsWith(xapi, host, request, ctx)
    return { host: host.uuid, srs, autoStarted: await startWhatStorageHeldBack(xapi, host, srs, ctx) }
  })
}

/**
 * After SRs came back, the auto_poweron VMs on them that xapi could not start at boot,
 * unless the pool's configuration turned auto-start off.
 */
export async function startWhatStorageHeldBack(
  xapi: LocalXapi,
  host: HostIdentity,
  srs: SrOutcome[],
  ctx: CallContext,
): Promise<AutoStartStep[]> {
  const plugged = srs.filter(sr => sr.pbds.some(p => p.outcome === 'plugged'))
  if (plugged.length === 0) return []
  const pool = await readPoolBindings(xapi).catch(() => undefined)
  if (pool?.config.autoStart === false) return []
  const refs = new Set(await Promise.all(plugged.map(sr => xapi.call<string>('SR.get_by_uuid', sr.sr))))
  return startHeldBack(xapi, host, ctx, refs)
}

/** plug-srs for bindings' SRs, with the probes the admin configured. */
export async function plugSrsFor(
  xapi: LocalXapi,
  host: HostIdentity,
  srs: { sr: string; probe?: string }[],
  ctx: CallContext,
  timeoutSeconds = 120,
): Promise<SrOutcome[]> {
  const unique = [...new Map(srs.map(s => [s.sr, s])).values()]
  const outcomes = await plugSrsWith(xapi, host, parsePlugSrsArgs(encodePlugSrsArgs(unique, timeoutSeconds)), ctx)
  await startWhatStorageHeldBack(xapi, host, outcomes, ctx)
  return outcomes
}
