// Stable error codes of the host plugin. They reach callers verbatim as xapi error codes
// (`ErrorDescription[0]`), so renaming one is a breaking change: add, never rename.

export const ErrorCode = {
  /** An argument is missing, unknown or malformed. Nothing was changed. */
  INVALID_ARGUMENT: 'VIF_IP_BINDER_INVALID_ARGUMENT',
  /** A named interface (bridge, management bridge) does not exist. Nothing was changed. */
  NO_SUCH_DEVICE: 'VIF_IP_BINDER_NO_SUCH_DEVICE',
  /** An `ip` or sysctl step failed; what this call had done was undone. */
  COMMAND_FAILED: 'VIF_IP_BINDER_COMMAND_FAILED',
  /** The new gateway did not answer on its bridge in time; the default route was not switched to it. */
  GATEWAY_UNREACHABLE: 'VIF_IP_BINDER_GATEWAY_UNREACHABLE',
  /** Another call held the host's lock for longer than the wait allows. */
  BUSY: 'VIF_IP_BINDER_BUSY',
  /** A route we were asked to own already exists with another next hop and is not ours. */
  CONFLICT: 'VIF_IP_BINDER_CONFLICT',
  /** The local xapi did not answer (on /var/lib/xcp/xapi), or this host is unknown to it. */
  XAPI_UNREACHABLE: 'VIF_IP_BINDER_XAPI_UNREACHABLE',
  /** An SR UUID that this pool does not have. Nothing was changed. */
  NO_SUCH_SR: 'VIF_IP_BINDER_NO_SUCH_SR',
  /** A VM (UUID or name) that this pool does not have. Nothing was changed. */
  NO_SUCH_VM: 'VIF_IP_BINDER_NO_SUCH_VM',
  /** A network (UUID or name) that this pool does not have. Nothing was changed. */
  NO_SUCH_NETWORK: 'VIF_IP_BINDER_NO_SUCH_NETWORK',
  /** `confirm` with a token that is neither the pending confirmation's nor the last confirmed one: unknown or reverted. */
  NO_SUCH_CONFIRMATION: 'VIF_IP_BINDER_NO_SUCH_CONFIRMATION',
  /**
   * apply-many refuse-changes=true: the bridge holds other arguments, or its last change was
   * reverted unconfirmed. Nothing was changed on it; apply it with `confirm=N`.
   */
  NEEDS_CONFIRMATION: 'VIF_IP_BINDER_NEEDS_CONFIRMATION',
} as const

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode]

/** xapi's own code for a function the plugin does not have (as XenAPIPlugin.py answers). */
export const UNKNOWN_FUNCTION = 'UNKNOWN_XENAPI_PLUGIN_FUNCTION'
/** xapi's code for an unexpected exception inside a plugin (XenAPIPlugin.py's shape). */
export const PLUGIN_FAILURE = 'XENAPI_PLUGIN_FAILURE'

/** An expected failure: becomes `{Status: "Failure", ErrorDescription: [code, message, ...details]}`. */
export class BinderError extends Error {
  override name = 'BinderError'
  constructor(
    readonly code: string,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message)
  }

  get errorDescription(): string[] {
    return [this.code, this.message, ...this.details]
  }
}

/**
 * An error xapi answered, as its clients see it: a code and string parameters
 * (`ErrorDescription` on the wire, `error_info` on a task).
 */
export class XapiError extends Error {
  override name = 'XapiError'
  constructor(
    readonly code: string,
    readonly params: string[],
  ) {
    super(`${code}${params.length ? ` ${JSON.stringify(params)}` : ''}`)
  }
}

/** xapi's answers to a reference or UUID that names nothing. */
export function isUnknownObject(error: unknown): boolean {
  return error instanceof XapiError && (error.code === 'UUID_INVALID' || error.code === 'HANDLE_INVALID')
}

export function invalidArgument(message: string, ...details: string[]): BinderError {
  return new BinderError(ErrorCode.INVALID_ARGUMENT, message, details)
}
