// Session refs handed out by session.login_with_password. Pool-wide like xapi's: a
// session opened over the unix socket is valid over TCP and on either RPC dialect.

import { XapiFailure } from './errors.ts'
import { newRef } from './store.ts'

export interface User {
  user: string
  password: string
}

export interface Session {
  ref: string
  user: string
  /** How the login arrived: a root login without password is only trusted locally. */
  via: 'tcp' | 'unix'
  originator: string
  createdAt: number
}

export class SessionStore {
  private sessions = new Map<string, Session>()

  constructor(private users: User[]) {}

  login(user: string, password: string, via: 'tcp' | 'unix', originator = ''): string {
    const known = this.users.find(u => u.user === user)
    // dom0's xapi trusts any root process talking over its unix socket (plug-late-sr logs in
    // as root with an empty password); over the network the password must match.
    const localRoot = via === 'unix' && user === 'root' && password === ''
    if (!localRoot && (known === undefined || known.password !== password)) {
      throw new XapiFailure('SESSION_AUTHENTICATION_FAILED', [user, 'Authentication failure'])
    }
    const ref = newRef()
    this.sessions.set(ref, { ref, user, via, originator, createdAt: Date.now() })
    return ref
  }

  logout(ref: string): void {
    this.check(ref)
    this.sessions.delete(ref)
  }

  check(ref: unknown): Session {
    const session = typeof ref === 'string' ? this.sessions.get(ref) : undefined
    if (session === undefined) throw new XapiFailure('SESSION_INVALID', [String(ref)])
    return session
  }

  find(ref: string): Session | undefined {
    return this.sessions.get(ref)
  }

  /** A restarted xapi forgets every session. */
  clear(): void {
    this.sessions.clear()
  }

  get size(): number {
    return this.sessions.size
  }
}
