// Confirming a change through a NEW connection to the host's own xapi: the pool connection
// the change was made over may outlive the very route the change broke (an established
// TCP connection, or a master reached by another path), so only a fresh connection to the
// host's address proves Xen Orchestra can still reach it.
//
// The connection is made with the pool connection's own client (`xen-api`), credentials and
// TLS choice, as xo-server itself does for pool merges (it reads `_auth` and `_url` from its
// connections). A pool member answers the login with HOST_IS_SLAVE and the client follows
// to the master, as `xen-api` always does: reaching the member at all is the proof.

import type { ConfirmResult } from '../shared/results.ts'
import { PLUGIN_NAME } from '../shared/version.ts'
import { describeError, errorCode } from './host-plugin.ts'
import type { XapiConnection } from './xapi-types.ts'

/** What `xen-api` keeps on a connection, and xo-server reads too. */
interface ClientInternals {
  _url?: { protocol?: string; port?: string; hostname?: string }
  _auth?: { user?: string; password?: string }
  _allowUnauthorized?: boolean
}

interface NewClient {
  connect(): Promise<void>
  disconnect(): Promise<void>
  call(method: string, ...args: unknown[]): Promise<unknown>
}

/**
 * How Xen Orchestra reaches a host's xapi: a host `via` maps (NAT) by that URL; the pool's
 * master by the name Xen Orchestra already reaches the pool by (a DNS name, a forwarded
 * port: xapi's host.address may not be reachable from Xen Orchestra at all); any other
 * member by its address.
 */
export function hostUrl(
  pool: XapiConnection,
  address: string,
  via: Readonly<Record<string, string>> = {},
  isMaster = false,
): string {
  if (via[address]) return via[address]
  const url = (pool as unknown as ClientInternals)._url ?? {}
  const hostname = isMaster && url.hostname ? url.hostname : address.includes(':') ? `[${address}]` : address
  return `${url.protocol ?? 'https:'}//${hostname}${url.port ? `:${url.port}` : ''}`
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${Math.round(ms / 1000)} s`)), ms)
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

type ClientClass = new (options: object) => NewClient

/**
 * The `xen-api` client class itself: the class in the connection's chain that defines
 * `connect`. xo-server's connections are subclasses whose constructors need xo-server's own
 * options (its Xapi parses `restartHostTimeout`, and throws without one); the base class
 * takes a URL and credentials alone.
 */
function clientClass(pool: XapiConnection): ClientClass {
  let prototype: object | null = Object.getPrototypeOf(pool)
  while (prototype && !Object.hasOwn(prototype, 'connect')) prototype = Object.getPrototypeOf(prototype)
  if (!prototype) throw new Error('the pool connection is not a xen-api client: cannot open a new one')
  return (prototype as { constructor: ClientClass }).constructor
}

async function confirmOnce(
  pool: XapiConnection,
  url: string,
  hostUuid: string,
  token: string,
  ms: number,
): Promise<ConfirmResult> {
  const internals = pool as unknown as ClientInternals
  const Client = clientClass(pool)
  const client = new Client({
    url,
    auth: internals._auth,
    allowUnauthorized: internals._allowUnauthorized,
    watchEvents: false,
  })
  try {
    await withTimeout(client.connect(), ms, 'the login')
    const hostRef = await withTimeout(client.call('host.get_by_uuid', hostUuid), ms, 'host.get_by_uuid')
    const answer = await withTimeout(
      client.call('host.call_plugin', hostRef, PLUGIN_NAME, 'confirm', { token }),
      ms,
      'confirm',
    )
    return JSON.parse(String(answer)) as ConfirmResult
  } finally {
    void client.disconnect().catch(() => undefined)
  }
}

/**
 * Why one attempt failed, with the URL it was made to: the admin reads it to tell a binding
 * that cut the host off from a URL Xen Orchestra never reaches (the code alone, such as
 * UND_ERR_SOCKET, says neither).
 */
export function attemptFailure(url: string, error: unknown): string {
  return `new connection to ${url}: ${describeError(error)}`
}

/**
 * Confirms `token` on the host through a new connection, trying again until its deadline
 * (a route or neighbour entry may take a moment). Each failed attempt is told to
 * `onFailure`; the last one is thrown, as an error whose message names the URL.
 */
export async function confirmThroughHost(
  pool: XapiConnection,
  host: { uuid: string; address: string; isMaster?: boolean },
  token: string,
  deadline: string,
  via: Readonly<Record<string, string>> = {},
  onFailure: (reason: string) => void = () => undefined,
): Promise<ConfirmResult> {
  const url = hostUrl(pool, host.address, via, host.isMaster)
  const end = Date.parse(deadline) - 1000
  for (;;) {
    const left = end - Date.now()
    try {
      return await confirmOnce(pool, url, host.uuid, token, Math.max(1000, Math.min(10_000, left)))
    } catch (error) {
      const reason = attemptFailure(url, error)
      onFailure(reason)
      // The host answered: the token is gone (confirmed, or reverted already). Nothing to retry.
      if (errorCode(error) === 'VIF_IP_BINDER_NO_SUCH_CONFIRMATION' || Date.now() + 2000 > end) throw new Error(reason)
    }
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
}
