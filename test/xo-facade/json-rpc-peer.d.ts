// The part of json-rpc-peer (CommonJS, untyped) the fake xo-server uses.
declare module 'json-rpc-peer' {
  export interface JsonRpcMessage {
    type: 'request' | 'notification' | 'response' | 'error'
    method: string
    params?: unknown
  }
  export class Peer {
    constructor(onMessage: (message: JsonRpcMessage) => unknown)
    write(data: string): void
    on(event: 'data', listener: (data: string) => void): this
  }
  export class JsonRpcError extends Error {
    constructor(message?: string, code?: number, data?: unknown)
  }
}
