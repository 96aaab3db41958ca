// The host plugin's way back into xapi: JSON-RPC over the local unix socket
// (/var/lib/xcp/xapi), as XenAPI.xapi_local() does. It uses the session xapi handed the
// call, or logs in as root with an empty password, which dom0's xapi accepts on that
// socket only: no credential is ever stored on the host.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BinderError, ErrorCode, XapiError, isUnknownObject } from '../../shared/errors.ts'

const XAPI_UNREACHABLE = ErrorCode.XAPI_UNREACHABLE

export { XapiError }

export function xapiSocketPath(root: string): string {
  return join(root, 'var/lib/xcp/xapi')
}

// node:http is loaded on the first call to xapi: most calls never make one, and it is the
// largest module of the executable (3 MiB of memory for every call that loads it).
async function post(socketPath: string, body: string, timeoutMs: number): Promise<string> {
  const { request } = await import('node:http')
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: '/jsonrpc',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      res => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', chunk => (data += chunk))
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(data)
            : reject(new Error(`HTTP ${res.statusCode} from xapi: ${data.slice(0, 200)}`)),
        )
      },
    )
    req.on('timeout', () => req.destroy(new Error(`xapi did not answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(body)
  })
}

export class LocalXapi {
  private nextId = 1
  private ownSession = false

  private constructor(
    readonly socketPath: string,
    private session: string,
  ) {}

  /** Uses the caller's session when there is one, else a local root login. */
  static async connect(root: string, session?: string): Promise<LocalXapi> {
    const xapi = new LocalXapi(xapiSocketPath(root), session ?? '')
    if (!session) {
      xapi.session = await xapi.rawCall<string>('session.login_with_password', ['root', '', '1.0', 'vif-ip-binder'])
      xapi.ownSession = true
    }
    return xapi
  }

  private async rawCall<T>(method: string, params: unknown[], timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++
    let text: string
    try {
      text = await post(this.socketPath, JSON.stringify({ jsonrpc: '2.0', method, params, id }), timeoutMs)
    } catch (error) {
      throw new BinderError(
        XAPI_UNREACHABLE,
        `the local xapi (${this.socketPath}) did not answer ${method}: ${(error as Error).message}`,
        [method],
      )
    }
    const answer = JSON.parse(text) as { result?: T; error?: { message: string; data?: unknown } }
    if (answer.error) {
      const data = Array.isArray(answer.error.data) ? answer.error.data.map(String) : []
      throw new XapiError(answer.error.message, data)
    }
    return answer.result as T
  }

  call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    return this.rawCall<T>(method, [this.session, ...params])
  }

  /** Like call, with a longer wait: PBD.plug and VM.start can take a while. */
  callSlow<T = unknown>(timeoutMs: number, method: string, ...params: unknown[]): Promise<T> {
    return this.rawCall<T>(method, [this.session, ...params], timeoutMs)
  }

  async close(): Promise<void> {
    if (this.ownSession) await this.rawCall('session.logout', [this.session]).catch(() => {})
  }
}

/** Opens a connection for the length of `body`, and always closes it. */
export async function withLocalXapi<T>(
  root: string,
  session: string | undefined,
  body: (xapi: LocalXapi) => Promise<T>,
): Promise<T> {
  const xapi = await LocalXapi.connect(root, session)
  try {
    return await body(xapi)
  } finally {
    await xapi.close()
  }
}

/** This host's UUID, as dom0 records it at installation. */
export function parseInventory(text: string): Record<string, string> {
  const entries: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_]+)='?([^']*)'?\s*$/.exec(line)
    if (match) entries[match[1]!] = match[2]!
  }
  return entries
}

export interface HostIdentity {
  ref: string
  uuid: string
}

/** The host this dom0 belongs to: INSTALLATION_UUID in /etc/xensource-inventory. */
export async function thisHost(root: string, xapi: LocalXapi): Promise<HostIdentity> {
  const uuid = inventoryHostUuid(root)
  return { uuid, ref: await xapi.call<string>('host.get_by_uuid', uuid) }
}

/** This host's UUID from /etc/xensource-inventory alone (no xapi needed). */
export function inventoryHostUuid(root: string): string {
  const path = join(root, 'etc/xensource-inventory')
  let uuid: string | undefined
  try {
    uuid = parseInventory(readFileSync(path, 'utf8')).INSTALLATION_UUID
  } catch (error) {
    throw new BinderError(XAPI_UNREACHABLE, `cannot read ${path}: ${(error as Error).message}`, [path])
  }
  if (!uuid) throw new BinderError(XAPI_UNREACHABLE, `${path} has no INSTALLATION_UUID`, [path])
  return uuid
}

/** The ref of `cls` with this UUID; `missing` makes the error when the pool has none. */
export async function refByUuid(
  xapi: LocalXapi,
  cls: string,
  uuid: string,
  missing: () => BinderError,
): Promise<string> {
  try {
    return await xapi.call<string>(`${cls}.get_by_uuid`, uuid)
  } catch (error) {
    throw isUnknownObject(error) ? missing() : error
  }
}
