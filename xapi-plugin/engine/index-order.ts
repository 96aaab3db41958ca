// The order in which the hook index's writers and removers take effect. A writer reads the
// pool document from xapi, asks xapi about every bound VM, and only then writes; meanwhile
// Xen Orchestra may have written a newer document and had this host index it
// (`refresh-index`), or an explicit call may have removed the index. So each writer takes a
// ticket before it reads the document, and its index goes in only if nothing that began
// later (a write or a removal) has already settled the file: the latest read wins, whatever
// order the writes finish in, and a removed index is never brought back by a read older than
// its removal. The tickets sit in a small file under /var/run (every writer dies with the
// host, so they need not outlive a reboot), changed only under their own lock, which is
// held for a file read and a rename, never while xapi is asked. The hook itself only reads
// the index: its quick path takes neither the lock nor the tickets.

import { readFileSync, rmSync } from 'node:fs'
import { hookIndexPath, type HookIndex, writeHookIndex } from './hook-index.ts'
import { writeFileAtomically } from '../runtime/atomic-file.ts'
import type { Environment } from '../runtime/environment.ts'
import { withHostLock } from './lock.ts'

/** Held for a read and a rename only: a lock still held after this is a stuck process. */
const LOCK_WAIT_S = 5

/** Taken before the pool document is read; orders the index written from that read. */
export interface IndexTicket {
  readonly ticket: number
}

/** For a writer whose ticket could not be taken (the lock out of reach): its index is never written. */
export const NO_TICKET: IndexTicket = { ticket: 0 }

type IndexPaths = Pick<Environment, 'stateDir' | 'indexLockPath' | 'indexTicketsPath'>

interface Tickets {
  /** The last ticket handed out. */
  issued: number
  /** The ticket of the write or removal that made the index what it is now. */
  settled: number
}

function readTickets(path: string): Tickets {
  try {
    const { issued, settled } = JSON.parse(readFileSync(path, 'utf8')) as Partial<Tickets>
    if (Number.isSafeInteger(issued) && Number.isSafeInteger(settled)) return { issued: issued!, settled: settled! }
  } catch {
    // None yet (a boot since): no writer can hold a ticket from before.
  }
  return { issued: 0, settled: 0 }
}

const saveTickets = (path: string, tickets: Tickets) => writeFileAtomically(path, JSON.stringify(tickets) + '\n')

export function takeIndexTicket(env: IndexPaths): Promise<IndexTicket> {
  return withHostLock(env.indexLockPath, LOCK_WAIT_S, async () => {
    const tickets = readTickets(env.indexTicketsPath)
    const ticket = tickets.issued + 1
    saveTickets(env.indexTicketsPath, { ...tickets, issued: ticket })
    return { ticket }
  })
}

/** Runs `change` if no write or removal that began after `ticket` (a new ticket if none) took effect. */
function settle(env: IndexPaths, ticket: IndexTicket | undefined, change: () => void): Promise<boolean> {
  return withHostLock(env.indexLockPath, LOCK_WAIT_S, async () => {
    const tickets = readTickets(env.indexTicketsPath)
    const mine = ticket?.ticket ?? tickets.issued + 1
    if (mine <= tickets.settled) return false
    change()
    saveTickets(env.indexTicketsPath, { issued: Math.max(tickets.issued, mine), settled: mine })
    return true
  })
}

/** Writes the index read under `ticket`; false (nothing written) if a later one settled it first. */
export function writeIndexInOrder(env: IndexPaths, ticket: IndexTicket, index: HookIndex): Promise<boolean> {
  return settle(env, ticket, () => writeHookIndex(env.stateDir, index))
}

/**
 * No index until the next one is written from xapi: the next hook takes its full path.
 * Without a ticket (an explicit call), the removal is later than every read under way; with
 * one (a writer that failed), it only removes what is no newer than its own read. Never
 * throws: a call that changed the host must still answer.
 */
export async function removeIndexInOrder(env: IndexPaths, ticket?: IndexTicket): Promise<void> {
  const remove = () => rmSync(hookIndexPath(env.stateDir), { force: true })
  try {
    await settle(env, ticket, remove)
  } catch {
    try {
      // The lock out of reach: removed anyway, a removal is never the stale answer.
      if (!ticket) remove()
    } catch {
      // Left in place, it still expires after MAX_AGE_MS.
    }
  }
}
