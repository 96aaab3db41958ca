// xen-api (Xen Orchestra's XAPI client) ships no types. The facade describes the client
// slice it uses in facade.ts; this declares only the factory, identically to the
// simulator's own declaration so the two merge.
declare module 'xen-api' {
  export function createClient(options: Record<string, unknown>): unknown
}
