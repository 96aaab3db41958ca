// pause / resume: the admin stops this host's automation (hook, boot unit, reconcile, Xen
// Orchestra) while fixing things by hand. The local file is the truth; host.other_config
// carries a copy for Xen Orchestra, best effort (the pause holds on the host either way).

import { invalidArgument } from '../../shared/errors.ts'
import { PAUSE_KEY, type Pause, encodePause } from '../../shared/pause.ts'
import { clearPause, readPause, writePause } from '../runtime/pause-file.ts'
import { thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import type { CallContext } from './context.ts'

interface Published {
  published: boolean
  publishError?: string
}

async function publish(ctx: CallContext, pause: Pause | undefined): Promise<Published> {
  try {
    await withLocalXapi(ctx.env.root, ctx.session, async xapi => {
      const host = await thisHost(ctx.env.root, xapi)
      await xapi.call('host.remove_from_other_config', host.ref, PAUSE_KEY)
      if (pause) await xapi.call('host.add_to_other_config', host.ref, PAUSE_KEY, encodePause(pause))
    })
    return { published: true }
  } catch (error) {
    return { published: false, publishError: (error as Error).message }
  }
}

export async function pause(reason: string | undefined, ctx: CallContext): Promise<{ paused: Pause } & Published> {
  const text = reason?.trim()
  if (!text) throw invalidArgument('pause: argument "reason" is required (say why, for whoever looks next)', 'reason')
  const paused: Pause = { reason: text, at: new Date().toISOString() }
  writePause(ctx.env.stateDir, paused)
  ctx.log.log('warning', `paused: ${paused.reason}`)
  return { paused, ...(await publish(ctx, paused)) }
}

export async function resume(ctx: CallContext): Promise<{ wasPaused: boolean; was?: Pause } & Published> {
  const was = readPause(ctx.env.stateDir)
  clearPause(ctx.env.stateDir)
  if (was) ctx.log.log('warning', 'resumed', { was })
  return { wasPaused: !!was, ...(was ? { was } : {}), ...(await publish(ctx, undefined)) }
}
