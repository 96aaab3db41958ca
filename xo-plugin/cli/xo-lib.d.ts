// The part of xo-lib (Xen Orchestra's JSON-RPC client, CommonJS, untyped) used here.
declare module 'xo-lib' {
  export interface XoClient {
    open(): Promise<void>
    close(): Promise<void>
    signIn(credentials: { email: string; password: string } | { token: string }): Promise<unknown>
    call(method: string, params?: Record<string, unknown>): Promise<unknown>
  }
  interface XoConstructor {
    new (options: { url: string }): XoClient
    default?: XoConstructor
  }
  const Xo: XoConstructor
  export default Xo
}
