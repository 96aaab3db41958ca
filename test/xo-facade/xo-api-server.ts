// A stand-in for xo-server's JSON-RPC API (WebSocket at <url>/api/, what xo-lib and xo-web
// speak), built on json-rpc-peer, the library xo-server uses: the plugin.* methods an admin
// script calls, backed by a PluginHost, with xo-server's sign-in and error rules (an error
// with toJsonRpcError passes as is, any other becomes a generic one).

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { JsonRpcError, Peer } from 'json-rpc-peer'
import { WebSocketServer } from 'ws'
import type { PluginHost } from './facade.ts'

export interface XoApiServer {
  url: string
  /** Every method called, in order (signed in or not). */
  calls: string[]
  close(): Promise<void>
}

type Handler = (params: Record<string, unknown>) => Promise<unknown>

function pluginMethods(host: PluginHost): Record<string, Handler> {
  return {
    'plugin.get': async () => [
      {
        id: host.id,
        loaded: host.loaded === true,
        configuration: (await host.xo.getOptionalPlugin(host.id))?.configuration,
      },
    ],
    'plugin.configure': async ({ configuration }) => host.configure(configuration as Record<string, unknown>),
    'plugin.load': async () => host.load(),
    'plugin.test': async ({ data }) => {
      await host.test(data)
      return undefined
    },
  }
}

export async function startXoApiServer(
  host: PluginHost,
  account: { email: string; password: string; token: string },
): Promise<XoApiServer> {
  const calls: string[] = []
  const methods = pluginMethods(host)
  const http = createServer()
  const wss = new WebSocketServer({ server: http, path: '/api/' })
  wss.on('connection', socket => {
    let signedIn = false
    const peer = new Peer(async message => {
      if (message.type !== 'request') return undefined
      calls.push(message.method)
      const params = (message.params ?? {}) as Record<string, unknown>
      if (message.method === 'session.signIn') {
        signedIn =
          params.token === account.token || (params.email === account.email && params.password === account.password)
        if (!signedIn) throw new JsonRpcError('invalid credentials', 3)
        return { id: 'admin', email: account.email, permission: 'admin' }
      }
      if (!signedIn) throw new JsonRpcError('not authenticated', 2)
      const method = methods[message.method]
      if (!method) throw new JsonRpcError(`method not found: ${message.method}`, -32601)
      return (await method(params)) ?? true
    })
    peer.on('data', data => socket.send(data))
    socket.on('message', data => peer.write(String(data)))
  })
  await new Promise<void>(resolve => http.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>(resolve => {
        for (const client of wss.clients) client.terminate()
        wss.close()
        http.close(() => resolve())
      }),
  }
}
