// Value conversions between the store and the two dialects. JSON-RPC: ints are numbers,
// datetimes are xapi's "YYYYMMDDTHH:MM:SSZ" strings. XML-RPC goes through the project's
// codec (bare strings, int64 as bare text, <boolean>, <dateTime.iso8601>).

import { decodeMethodCall, encodeFault, encodeMethodResponse, type XmlRpcValue } from '../../shared/xmlrpc.ts'

export function xapiDate(date: Date): string {
  return date
    .toISOString()
    .replace(/-/g, '')
    .replace(/\.\d{3}Z$/, 'Z')
}

export function toJsonValue(value: unknown): unknown {
  if (value instanceof Date) return xapiDate(value)
  if (Array.isArray(value)) return value.map(toJsonValue)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonValue(v)
    return out
  }
  return value
}

export interface RpcRequest {
  method: string
  params: unknown[]
  /** JSON-RPC only: the id and the version to answer with. */
  id?: unknown
  version?: '1.0' | '2.0'
}

export class WireError extends Error {}

export function parseJsonRequest(body: string): RpcRequest {
  let message: unknown
  try {
    message = JSON.parse(body)
  } catch {
    throw new WireError('Parse error')
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) throw new WireError('Invalid Request')
  const m = message as Record<string, unknown>
  if (typeof m.method !== 'string') throw new WireError('Invalid Request')
  const params = m.params === undefined ? [] : m.params
  if (!Array.isArray(params)) throw new WireError('Invalid params')
  return { method: m.method, params, id: m.id ?? null, version: m.jsonrpc === '2.0' ? '2.0' : '1.0' }
}

export function jsonSuccess(request: RpcRequest, result: unknown): string {
  const value = toJsonValue(result)
  return JSON.stringify(
    request.version === '2.0'
      ? { jsonrpc: '2.0', result: value, id: request.id }
      : { result: value, error: null, id: request.id },
  )
}

/** v2: {code: 1, message: CODE, data: params} as xapi; v1: the ErrorDescription array. */
export function jsonFailure(request: RpcRequest, description: string[]): string {
  const [code = 'INTERNAL_ERROR', ...params] = description
  return JSON.stringify(
    request.version === '2.0'
      ? { jsonrpc: '2.0', error: { code: 1, message: code, data: params }, id: request.id }
      : { result: null, error: description, id: request.id },
  )
}

export function jsonProtocolError(message: string): string {
  const code = message === 'Parse error' ? -32700 : message === 'Invalid params' ? -32602 : -32600
  return JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null })
}

export function parseXmlRequest(body: string): RpcRequest {
  try {
    const call = decodeMethodCall(body)
    return { method: call.methodName, params: call.params }
  } catch (error) {
    throw new WireError((error as Error).message)
  }
}

export function xmlSuccess(result: unknown): string {
  return encodeMethodResponse({ Status: 'Success', Value: result as XmlRpcValue })
}

export function xmlFailure(description: string[]): string {
  return encodeMethodResponse({ Status: 'Failure', ErrorDescription: description })
}

export function xmlProtocolError(message: string): string {
  return encodeFault(-1, message)
}
