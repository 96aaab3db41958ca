// XML-RPC codec in xapi's dialect.
//
// xapi hands a host plugin its call as argv[1] and reads the answer from stdout, both as
// XML-RPC documents. xapi writes strings as bare `<value>text</value>` (empty: `<value/>`)
// and int64 as strings; Python's xmlrpc.client wraps strings in `<string>`. Decoding
// accepts both; encoding writes xapi's form so that whatever parses xapi parses us.

import { XMLParser, XMLValidator } from 'fast-xml-parser'

export type XmlRpcValue = string | number | boolean | null | Date | XmlRpcValue[] | { [key: string]: XmlRpcValue }

export interface MethodCall {
  methodName: string
  params: XmlRpcValue[]
}

export type MethodResponse =
  | { kind: 'value'; value: XmlRpcValue }
  | { kind: 'fault'; faultCode: number; faultString: string }

export class XmlRpcSyntaxError extends Error {
  override name = 'XmlRpcSyntaxError'
}

// preserveOrder keeps repeated siblings (params, members, array items) in document order;
// trimValues is off because whitespace inside a string value is data.
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
})

type Node = Record<string, unknown>

function tagOf(node: Node): string {
  for (const key of Object.keys(node)) if (key !== ':@') return key
  throw new XmlRpcSyntaxError('empty XML node')
}

function childrenOf(node: Node): Node[] {
  const children = node[tagOf(node)]
  return Array.isArray(children) ? (children as Node[]) : []
}

function textOf(nodes: Node[]): string {
  return nodes.map(n => (typeof n['#text'] === 'string' ? n['#text'] : '')).join('')
}

/** Element children only: whitespace between elements is layout, not data. */
function elementsOf(nodes: Node[]): Node[] {
  return nodes.filter(n => tagOf(n) !== '#text')
}

function onlyElement(nodes: Node[], where: string): Node {
  const elements = elementsOf(nodes)
  if (elements.length !== 1) throw new XmlRpcSyntaxError(`expected one element in <${where}>, got ${elements.length}`)
  return elements[0]!
}

function childNamed(nodes: Node[], tag: string): Node | undefined {
  return elementsOf(nodes).find(n => tagOf(n) === tag)
}

function decodeValue(valueNode: Node): XmlRpcValue {
  const children = childrenOf(valueNode)
  const elements = elementsOf(children)
  if (elements.length === 0) return textOf(children) // xapi's bare string (or <value/>)
  if (elements.length > 1) throw new XmlRpcSyntaxError('a <value> holds more than one element')
  const typed = elements[0]!
  const tag = tagOf(typed)
  const inner = childrenOf(typed)
  if (tag === 'array') return decodeArray(inner)
  if (tag === 'struct') return decodeStruct(inner)
  return decodeScalar(tag, textOf(inner))
}

function decodeScalar(tag: string, text: string): XmlRpcValue {
  switch (tag) {
    case 'string':
      return text
    case 'int':
    case 'i4':
    case 'i8': {
      if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new XmlRpcSyntaxError(`bad <${tag}> ${JSON.stringify(text)}`)
      return Number.parseInt(text, 10)
    }
    case 'double': {
      const n = Number(text)
      if (text.trim() === '' || Number.isNaN(n)) throw new XmlRpcSyntaxError(`bad <double> ${JSON.stringify(text)}`)
      return n
    }
    case 'boolean': {
      const t = text.trim()
      if (t !== '0' && t !== '1') throw new XmlRpcSyntaxError(`bad <boolean> ${JSON.stringify(text)}`)
      return t === '1'
    }
    case 'nil':
      return null
    case 'dateTime.iso8601':
    case 'base64':
      return text.trim()
    default:
      throw new XmlRpcSyntaxError(`unknown XML-RPC type <${tag}>`)
  }
}

function decodeArray(inner: Node[]): XmlRpcValue[] {
  const data = childNamed(inner, 'data')
  if (!data) throw new XmlRpcSyntaxError('<array> without <data>')
  return elementsOf(childrenOf(data)).map(v => {
    if (tagOf(v) !== 'value') throw new XmlRpcSyntaxError(`unexpected <${tagOf(v)}> in <data>`)
    return decodeValue(v)
  })
}

function decodeStruct(inner: Node[]): Record<string, XmlRpcValue> {
  const out: Record<string, XmlRpcValue> = {}
  for (const member of elementsOf(inner)) {
    if (tagOf(member) !== 'member') throw new XmlRpcSyntaxError(`unexpected <${tagOf(member)}> in <struct>`)
    const parts = childrenOf(member)
    const name = childNamed(parts, 'name')
    const value = childNamed(parts, 'value')
    if (!name || !value) throw new XmlRpcSyntaxError('<member> needs <name> and <value>')
    // defineProperty: a member named __proto__ is data, not our object's prototype.
    Object.defineProperty(out, textOf(childrenOf(name)), {
      value: decodeValue(value),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}

function parseDocument(xml: string, root: string): Node[] {
  // xapi never sends a DTD; refusing one rules out entity-expansion tricks.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlRpcSyntaxError('DTDs are not accepted')
  // The parser is lenient: a truncated argv would decode to a call with cut values (a
  // `dry-run` of "tr" becoming ""). Only a well-formed document is a call.
  const validation = XMLValidator.validate(xml)
  if (validation !== true) {
    const { msg, line, col } = validation.err
    throw new XmlRpcSyntaxError(`not well-formed XML (line ${line}, column ${col}): ${msg}`)
  }
  let doc: Node[]
  try {
    doc = parser.parse(xml) as Node[]
  } catch (error) {
    throw new XmlRpcSyntaxError(`not XML: ${(error as Error).message}`)
  }
  const top = elementsOf(doc).filter(n => tagOf(n) !== '?xml')
  if (top.length !== 1 || tagOf(top[0]!) !== root) throw new XmlRpcSyntaxError(`expected a <${root}> document`)
  return childrenOf(top[0]!)
}

function decodeParams(nodes: Node[]): XmlRpcValue[] {
  const params = childNamed(nodes, 'params')
  if (!params) return []
  return elementsOf(childrenOf(params)).map(param => {
    if (tagOf(param) !== 'param') throw new XmlRpcSyntaxError(`unexpected <${tagOf(param)}> in <params>`)
    return decodeValue(onlyElement(childrenOf(param), 'param'))
  })
}

export function decodeMethodCall(xml: string): MethodCall {
  const nodes = parseDocument(xml, 'methodCall')
  const name = childNamed(nodes, 'methodName')
  if (!name) throw new XmlRpcSyntaxError('<methodCall> without <methodName>')
  return { methodName: textOf(childrenOf(name)).trim(), params: decodeParams(nodes) }
}

export function decodeMethodResponse(xml: string): MethodResponse {
  const nodes = parseDocument(xml, 'methodResponse')
  const fault = childNamed(nodes, 'fault')
  if (fault) {
    const value = decodeValue(onlyElement(childrenOf(fault), 'fault'))
    const struct = (value ?? {}) as Record<string, XmlRpcValue>
    return {
      kind: 'fault',
      faultCode: Number(struct.faultCode ?? 0),
      faultString: String(struct.faultString ?? ''),
    }
  }
  const params = decodeParams(nodes)
  if (params.length !== 1) throw new XmlRpcSyntaxError(`a <methodResponse> holds one param, got ${params.length}`)
  return { kind: 'value', value: params[0]! }
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>]/g, c => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'))
}

/** xapi's (and XML-RPC's) compact form: 20260101T12:00:00Z. */
function xapiDateTime(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/-/g, '')
}

/** Encodes as xapi does: bare strings, `<value/>` for empty, int64 as strings. */
export function encodeValue(value: XmlRpcValue): string {
  if (value === null || value === undefined) return '<value><nil/></value>'
  if (typeof value === 'string') return value === '' ? '<value/>' : `<value>${escapeXml(value)}</value>`
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`XML-RPC has no encoding for ${value}`)
    if (Number.isInteger(value)) return `<value>${value}</value>`
    return `<value><double>${value}</double></value>`
  }
  if (value instanceof Date) return `<value><dateTime.iso8601>${xapiDateTime(value)}</dateTime.iso8601></value>`
  if (Array.isArray(value)) return `<value><array><data>${value.map(encodeValue).join('')}</data></array></value>`
  const members = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<member><name>${escapeXml(k)}</name>${encodeValue(v)}</member>`)
  return `<value><struct>${members.join('')}</struct></value>`
}

export function encodeMethodCall(methodName: string, params: XmlRpcValue[]): string {
  const encoded = params.map(p => `<param>${encodeValue(p)}</param>`).join('')
  return `<methodCall><methodName>${escapeXml(methodName)}</methodName><params>${encoded}</params></methodCall>`
}

export function encodeMethodResponse(value: XmlRpcValue): string {
  return `<methodResponse><params><param>${encodeValue(value)}</param></params></methodResponse>`
}

export function encodeFault(faultCode: number, faultString: string): string {
  // faultCode must be a real <int>: bare integers would read back as strings.
  const members =
    `<member><name>faultCode</name><value><int>${Math.trunc(faultCode)}</int></value></member>` +
    `<member><name>faultString</name>${encodeValue(faultString)}</member>`
  return `<methodResponse><fault><value><struct>${members}</struct></value></fault></methodResponse>`
}
