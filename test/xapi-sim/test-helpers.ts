// Helpers for the simulator's own tests: the unmodified xen-api client, polling for a
// condition, raw RPC calls over HTTP or a unix socket, and `ip -j link` lookups.

import { request } from 'node:http'
import { createClient } from 'xen-api'
import { ipJson } from '../helpers/netns.ts'
import type { Simulator } from './simulator.ts'

export type Transport = 'json-rpc' | 'xml-rpc'

// xen-api ships no types: the slice these tests use.
export interface XapiClient {
  connect(): Promise<void>
  disconnect(): Promise<void>
  call(method: string, ...args: unknown[]): Promise<any>
  callAsync(method: string, ...args: unknown[]): Promise<any>
  objectsFetched: Promise<void>
  objects: { all: Record<string, any>; on(event: string, listener: (objects: Record<string, any>) => void): void }
  pool: any
  sessionId: string
  status: string
  getObjectByUuid(uuid: string): any
  getObjectByRef(ref: string, fallback?: unknown): any
  on(event: string, listener: (...args: any[]) => void): void
}

export function connectClient(sim: Simulator, transport: Transport, opts: Record<string, unknown> = {}): XapiClient {
  const user = sim.users[0]!
  return createClient({
    url: sim.url,
    auth: { user: user.user, password: user.password },
    allowUnauthorized: true,
    transport,
    debounce: 20,
    // After a failed event.from xen-api sleeps this long (default 60 s): a test process
    // would linger that long after the simulator stops.
    eventPollDelay: 100,
    ...opts,
  }) as XapiClient
}

export async function waitUntil<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 25))
  }
}

export interface IpLink {
  ifname: string
  master?: string
  operstate?: string
  address?: string
}

export async function linkNames(ns: string): Promise<string[]> {
  return (await ipJson<IpLink[]>(ns, 'link', 'show')).map(l => l.ifname)
}

export async function linkInfo(ns: string, name: string): Promise<IpLink | undefined> {
  return (await ipJson<IpLink[]>(ns, 'link', 'show')).find(l => l.ifname === name)
}

export interface RawResponse {
  status: number
  contentType: string | undefined
  body: string
}

/** POSTs a raw body to the simulator (TCP url or unix socket path). */
export function post(
  target: { url: string } | { socketPath: string },
  path: string,
  body: string,
  contentType: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const options =
      'url' in target
        ? { host: new URL(target.url).hostname, port: Number(new URL(target.url).port) }
        : { socketPath: target.socketPath }
    const req = request(
      {
        ...options,
        path,
        method: 'POST',
        headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
      },
      res => {
        const chunks: Buffer[] = []
        res.on('data', c => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks).toString(),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** A JSON-RPC v2 call; resolves to the parsed response object. */
export async function jsonCall(
  target: { url: string } | { socketPath: string },
  method: string,
  params: unknown[],
  version: '1.0' | '2.0' = '2.0',
): Promise<any> {
  const message = version === '2.0' ? { jsonrpc: '2.0', method, params, id: 7 } : { method, params, id: 7 }
  const res = await post(target, '/jsonrpc', JSON.stringify(message), 'application/json')
  return JSON.parse(res.body)
}

/** Result of a JSON-RPC v2 call or throws with the error's message (the xapi code) and data. */
export async function rpc(
  target: { url: string } | { socketPath: string },
  method: string,
  ...params: unknown[]
): Promise<any> {
  const response = await jsonCall(target, method, params)
  if (response.error)
    throw Object.assign(new Error(response.error.message), {
      code: response.error.message,
      params: response.error.data,
    })
  return response.result
}

export async function login(sim: Simulator): Promise<string> {
  const user = sim.users[0]!
  return rpc(sim, 'session.login_with_password', user.user, user.password)
}
