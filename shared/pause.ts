// A paused host: its automation (the vif-hotplug hook, the boot unit, reconcile, and Xen
// Orchestra) changes nothing there until `resume`, while the admin fixes things by hand.
// The host keeps the pause in a local file (read with xapi down, and first thing by the
// hook) and publishes it in host.other_config for Xen Orchestra.

export const PAUSE_KEY = 'vif-ip-binder-paused'

export interface Pause {
  reason: string
  /** ISO time the pause began. */
  at: string
}

/** The pause recorded in a host's other_config (or the local file's text), if any. */
export function parsePause(text: string | undefined): Pause | undefined {
  if (text === undefined) return undefined
  try {
    const value = JSON.parse(text) as Partial<Pause>
    if (typeof value.reason === 'string' && typeof value.at === 'string') return { reason: value.reason, at: value.at }
  } catch {
    // Unreadable still means paused: when in doubt, change nothing.
  }
  return { reason: text.slice(0, 200), at: '' }
}

export function encodePause(pause: Pause): string {
  return JSON.stringify({ reason: pause.reason, at: pause.at })
}

export function describePause(pause: Pause): string {
  return `paused${pause.at ? ` since ${pause.at}` : ''}: ${pause.reason}`
}
