// HTTP front: POST /jsonrpc (JSON-RPC v1/v2) and POST / or /xmlrpc (XML-RPC), on TCP and
// on each host's unix socket (<root>/var/lib/xcp/xapi), with xapi's 300 KiB body limit.
// Connection faults are applied here because they act on the connection, not the call.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { rm } from 'node:fs/promises'
import { setMaxListeners } from 'node:events'
import type { Api } from './api.ts'
import { toFailure } from './errors.ts'
import type { CallInfo, FaultController } from './faults.ts'
import type { SessionStore } from './sessions.ts'
import * as wire from './wire.ts'

export const MAX_BODY_BYTES = 300 * 1024

export interface RpcServerDeps {
  api: Api
  sessions: SessionStore
  faults: FaultController
  /** Extra GET routes (the simulator's own introspection, e.g. /sim/timeline). */
  extraRoutes?: Record<string, () => unknown>
}

interface Listener {
  server: Server
  via: 'tcp' | 'unix'
  path?: string
}

interface InFlight {
  socket: Socket
  call?: CallInfo
}

export class RpcServer {
  private listeners: Listener[] = []
  private sockets = new Set<Socket>()
  private inFlight = new Set<InFlight>()
  private stopping = new AbortController()

  constructor(private deps: RpcServerDeps) {
    // One listener per call in flight, removed when it ends: a busy pool has more than
    // Node's default of 10 at once (event.from long polls, host plugin calls).
    setMaxListeners(0, this.stopping.signal)
  }

  /**
   * `gate`: asked before each request; when it says no, the connection is cut without an
   * answer, as a client sees a host it cannot reach.
   */
  async listenTcp(port: number, host = '127.0.0.1', gate?: () => Promise<boolean>): Promise<number> {
    const server = this.makeServer('tcp', gate)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    this.listeners.push({ server, via: 'tcp' })
    const address = server.address()
    return typeof address === 'object' && address !== null ? address.port : port
  }

  async listenUnix(path: string): Promise<void> {
    await rm(path, { force: true })
    const server = this.makeServer('unix')
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => resolve())
    })
    this.listeners.push({ server, via: 'unix', path })
  }

  /** Cuts connections (all, or those whose current call matches) without answering. */
  dropConnections(predicate: (call: CallInfo | undefined) => boolean = () => true): number {
    let n = 0
    for (const flight of this.inFlight) {
      if (predicate(flight.call)) {
        flight.socket.destroy()
        n++
      }
    }
    return n
  }

  async close(): Promise<void> {
    this.stopping.abort()
    for (const socket of this.sockets) socket.destroy()
    await Promise.all(this.listeners.map(l => new Promise<void>(resolve => l.server.close(() => resolve()))))
    await Promise.all(this.listeners.filter(l => l.path).map(l => rm(l.path!, { force: true })))
    this.listeners = []
  }

  private makeServer(via: 'tcp' | 'unix', gate?: () => Promise<boolean>): Server {
    const server = createServer((req, res) => void this.gated(gate, req, () => this.handle(via, req, res)))
    server.on('connection', socket => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    // event.from may legitimately take a minute; never cut a waiting client ourselves.
    server.requestTimeout = 0
    server.headersTimeout = 60_000
    server.keepAliveTimeout = 30_000
    return server
  }

  private async gated(gate: (() => Promise<boolean>) | undefined, req: IncomingMessage, handle: () => Promise<void>) {
    if (gate && !(await gate())) {
      req.socket.destroy()
      return
    }
    await handle()
  }

  private async handle(via: 'tcp' | 'unix', req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path !== undefined && this.deps.extraRoutes?.[path]) {
      return send(res, 200, 'application/json', JSON.stringify(this.deps.extraRoutes[path]!()))
    }
    const dialect = path === '/jsonrpc' ? 'json' : path === '/' || path === '/xmlrpc' ? 'xml' : undefined
    if (req.method !== 'POST' || dialect === undefined) return send(res, 404, 'text/plain', 'Not found\n')

    const body = await readBody(req, MAX_BODY_BYTES)
    if (body === undefined) {
      res.setHeader('connection', 'close')
      return send(res, 413, 'text/plain', 'Request Entity Too Large\n')
    }

    let request: wire.RpcRequest
    try {
      request = dialect === 'json' ? wire.parseJsonRequest(body) : wire.parseXmlRequest(body)
    } catch (error) {
      return dialect === 'json'
        ? send(res, 200, 'application/json', wire.jsonProtocolError((error as Error).message))
        : send(res, 200, 'text/xml', wire.xmlProtocolError((error as Error).message))
    }

    const call = this.describe(request, via)
    const flight: InFlight = { socket: req.socket, call }
    this.inFlight.add(flight)
    const controller = new AbortController()
    const abort = () => controller.abort()
    req.socket.once('close', abort)
    this.stopping.signal.addEventListener('abort', abort)
    try {
      const fault = this.deps.faults.takeConnectionFault(call)
      if (fault?.action === 'drop') {
        req.socket.destroy()
        return
      }
      if (fault?.action === 'delay') await sleep(fault.delayMs ?? 1000, controller.signal)
      if (fault?.action === 'hold') await this.deps.faults.hold(controller.signal)
      if (controller.signal.aborted) return

      let payload: string
      try {
        const result = await this.deps.api.call(request.method, request.params, {
          via,
          dialect,
          signal: controller.signal,
        })
        payload = dialect === 'json' ? wire.jsonSuccess(request, result) : wire.xmlSuccess(result)
      } catch (error) {
        const description = toFailure(error).description
        payload = dialect === 'json' ? wire.jsonFailure(request, description) : wire.xmlFailure(description)
      }
      if (!controller.signal.aborted) send(res, 200, dialect === 'json' ? 'application/json' : 'text/xml', payload)
    } finally {
      this.inFlight.delete(flight)
      req.socket.off('close', abort)
      this.stopping.signal.removeEventListener('abort', abort)
    }
  }

  private describe(request: wire.RpcRequest, via: 'tcp' | 'unix'): CallInfo {
    const first = request.params[0]
    if (request.method === 'session.login_with_password') return { method: request.method, user: String(first), via }
    const session = typeof first === 'string' ? this.deps.sessions.find(first) : undefined
    return { method: request.method, via, session: session?.ref, user: session?.user }
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  // Exactly this content type: xen-api falls back to XML-RPC for good on any other.
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** The body, or undefined once it exceeds the limit (the rest is discarded). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise(resolve => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      req.resume()
      return resolve(undefined)
    }
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) over = true
      else chunks.push(chunk)
    })
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')))
    req.on('error', () => resolve(undefined))
  })
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}
