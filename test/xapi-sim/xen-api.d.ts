// xen-api (Xen Orchestra's XAPI client) ships no types; the simulator's tests use its
// factory only and describe the client slice they need in test-helpers.ts.
declare module 'xen-api' {
  export function createClient(options: Record<string, unknown>): unknown
}
