// xapi's API errors: a code and string parameters, exactly what the caller's
// ErrorDescription holds. Every handler throws XapiFailure; the transports turn it into
// the wire shape of their protocol.

export class XapiFailure extends Error {
  override name = 'XapiFailure'
  readonly code: string
  readonly params: string[]

  constructor(code: string, params: readonly string[] = []) {
    super(`${code}(${params.join(', ')})`)
    this.code = code
    this.params = params.map(String)
  }

  get description(): string[] {
    return [this.code, ...this.params]
  }
}

/** Anything thrown by a handler becomes an ErrorDescription; unexpected bugs as INTERNAL_ERROR like xapi. */
export function toFailure(error: unknown): XapiFailure {
  if (error instanceof XapiFailure) return error
  return new XapiFailure('INTERNAL_ERROR', [error instanceof Error ? error.message : String(error)])
}
