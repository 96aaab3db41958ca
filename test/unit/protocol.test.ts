// xapi's plugin protocol (xapi-plugin/entry/protocol.ts): the call in argv[1], the answer on stdout.

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { execa } from 'execa'
import { BinderError, ErrorCode, PLUGIN_FAILURE, UNKNOWN_FUNCTION, invalidArgument } from '../../shared/errors.ts'
import { decodeMethodResponse, encodeMethodCall } from '../../shared/xmlrpc.ts'
import {
  type Outcome,
  encodeOutcome,
  errorDescriptionOf,
  parsePluginCall,
  unknownFunction,
} from '../../xapi-plugin/entry/protocol.ts'

const SESSION = 'OpaqueRef:11111111-2222-3333-4444-555555555555'

/** Exactly what xapi writes: no prolog, bare strings, <value/> for "". */
const XAPI_CALL =
  '<methodCall><methodName>apply</methodName><params>' +
  `<param><value>${SESSION}</value></param>` +
  '<param><value><struct>' +
  '<member><name>bridge</name><value>xapi1</value></member>' +
  '<member><name>addresses</name><value>10.0.0.2/24, fd00:1::2/64</value></member>' +
  '<member><name>gateway</name><value/></member>' +
  '<member><name>note</name><value>a &amp; b &lt;c&gt;</value></member>' +
  '</struct></value></param>' +
  '</params></methodCall>'

const EXPECTED_ARGS = { bridge: 'xapi1', addresses: '10.0.0.2/24, fd00:1::2/64', gateway: '', note: 'a & b <c>' }

async function pythonDumps(params: unknown[], method: string): Promise<string> {
  const script =
    'import json, sys, xmlrpc.client\nspec = json.load(sys.stdin)\nsys.stdout.write(xmlrpc.client.dumps(tuple(spec[0]), methodname=spec[1]))'
  return (await execa('python3', ['-c', script], { input: JSON.stringify([params, method]) })).stdout
}

async function pythonLoads(xml: string): Promise<unknown> {
  const script =
    'import json, sys, xmlrpc.client\nparams, method = xmlrpc.client.loads(sys.stdin.read())\njson.dump([list(params), method], sys.stdout)'
  return JSON.parse((await execa('python3', ['-c', script], { input: xml })).stdout) as unknown
}

function assertInvalid(run: () => unknown, ...named: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof BinderError, `expected a BinderError, got ${String(error)}`)
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT)
    for (const text of named)
      assert.ok(
        error.message.includes(text),
        `message ${JSON.stringify(error.message)} does not name ${JSON.stringify(text)}`,
      )
    return true
  })
}

describe('parsePluginCall', () => {
  test("xapi's encoding", () => {
    assert.deepEqual(parsePluginCall(XAPI_CALL), { fn: 'apply', session: SESSION, args: EXPECTED_ARGS })
  })

  test("Python's encoding (XenAPIPlugin / xmlrpc.client: prolog, <string>, layout)", async () => {
    const xml = await pythonDumps([SESSION, EXPECTED_ARGS], 'apply')
    assert.match(xml, /^<\?xml/)
    assert.match(xml, /<string>/)
    assert.deepEqual(parsePluginCall(xml), { fn: 'apply', session: SESSION, args: EXPECTED_ARGS })
  })

  test('our own encoder (the simulator and tests use it)', () => {
    assert.deepEqual(parsePluginCall(encodeMethodCall('status', [SESSION, { bridge: 'xapi9' }])), {
      fn: 'status',
      session: SESSION,
      args: { bridge: 'xapi9' },
    })
  })

  const shapes: [string, string, { fn: string; session?: string; args: Record<string, string> }][] = [
    [
      'no params at all',
      '<methodCall><methodName>version</methodName></methodCall>',
      { fn: 'version', session: undefined, args: {} },
    ],
    [
      'session only',
      `<methodCall><methodName>version</methodName><params><param><value>${SESSION}</value></param></params></methodCall>`,
      { fn: 'version', session: SESSION, args: {} },
    ],
    [
      'empty session, empty struct',
      '<methodCall><methodName>version</methodName><params><param><value/></param><param><value><struct></struct></value></param></params></methodCall>',
      { fn: 'version', session: undefined, args: {} },
    ],
    [
      'args given as an empty string (<value/>)',
      `<methodCall><methodName>version</methodName><params><param><value>${SESSION}</value></param><param><value/></param></params></methodCall>`,
      { fn: 'version', session: SESSION, args: {} },
    ],
    [
      'non-string session is ignored',
      '<methodCall><methodName>version</methodName><params><param><value><int>5</int></value></param></params></methodCall>',
      { fn: 'version', session: undefined, args: {} },
    ],
  ]
  for (const [name, xml, expected] of shapes) {
    test(name, () => assert.deepEqual(parsePluginCall(xml), expected))
  }

  const bad: [string, string, string[]][] = [
    ['not XML', 'apply bridge=xapi1', ['XML-RPC']],
    ['empty argv', '', ['XML-RPC']],
    ['DTD', '<!DOCTYPE x><methodCall><methodName>apply</methodName></methodCall>', ['DTD']],
    [
      'a response, not a call',
      '<methodResponse><params><param><value>x</value></param></params></methodResponse>',
      ['methodCall'],
    ],
    ['args as an array', encodeMethodCall('apply', [SESSION, ['bridge', 'xapi1']]), ['struct']],
    [
      'args as a number',
      '<methodCall><methodName>apply</methodName><params><param><value>s</value></param><param><value><int>1</int></value></param></params></methodCall>',
      ['struct'],
    ],
    ['args as nil', encodeMethodCall('apply', [SESSION, null]), ['struct']],
    ['args as a non-empty string', encodeMethodCall('apply', [SESSION, 'bridge=xapi1']), ['struct']],
    [
      'an argument that is a number',
      encodeMethodCall('apply', [SESSION, { bridge: 'xapi1', 'gateway-check': 5.5 }]),
      ['gateway-check'],
    ],
    ['an argument that is a boolean', encodeMethodCall('apply', [SESSION, { 'dry-run': true }]), ['dry-run']],
    ['an argument that is a struct', encodeMethodCall('apply', [SESSION, { routes: { a: 'b' } }]), ['routes']],
    [
      'an argument that is an array',
      encodeMethodCall('apply', [SESSION, { addresses: ['10.0.0.2/24'] }]),
      ['addresses'],
    ],
    [
      'truncated call (a cut argv must not run as a smaller call)',
      `<methodCall><methodName>release</methodName><params><param><value>${SESSION}</value></param><param><value><struct><member><name>bridge</name><value>xapi1</value></member><member><name>dry-run</name><value>tr`,
      ['XML-RPC'],
    ],
  ]
  for (const [name, xml, named] of bad) {
    test(`INVALID_ARGUMENT: ${name}`, () => assertInvalid(() => parsePluginCall(xml), ...named))
  }
})

describe('errorDescriptionOf', () => {
  const cases: [string, unknown, string[]][] = [
    [
      'BinderError: code, message, details',
      new BinderError(ErrorCode.CONFLICT, 'routes: 10.9.0.0/16 taken', ['10.9.0.0/16']),
      ['VIF_IP_BINDER_CONFLICT', 'routes: 10.9.0.0/16 taken', '10.9.0.0/16'],
    ],
    [
      'invalidArgument with no details',
      invalidArgument('bridge: "x y" is bad'),
      ['VIF_IP_BINDER_INVALID_ARGUMENT', 'bridge: "x y" is bad'],
    ],
    ['plain Error: XenAPIPlugin shape', new Error('disk full'), [PLUGIN_FAILURE, 'apply', 'Error', 'disk full']],
    [
      'TypeError keeps its class name',
      new TypeError('x is undefined'),
      [PLUGIN_FAILURE, 'apply', 'TypeError', 'x is undefined'],
    ],
    ['a thrown string', 'boom', [PLUGIN_FAILURE, 'apply', 'Error', 'boom']],
    ['a thrown undefined', undefined, [PLUGIN_FAILURE, 'apply', 'Error', 'undefined']],
  ]
  for (const [name, error, expected] of cases) {
    test(name, () => {
      const description = errorDescriptionOf('apply', error)
      assert.deepEqual(description, expected)
      assert.ok(description.every(p => typeof p === 'string'))
    })
  }

  test('XO reads a plugin failure message from params[2]: the message lands at index 3 of the description', () => {
    // ErrorDescription = [XENAPI_PLUGIN_FAILURE, fn, class, message]; xapi passes params = [fn, class, message].
    assert.equal(errorDescriptionOf('status', new RangeError('bad'))[3], 'bad')
  })

  test('unknownFunction is what XenAPIPlugin.py answers', () => {
    assert.deepEqual(unknownFunction('frobnicate'), [UNKNOWN_FUNCTION, 'frobnicate'])
    assert.equal(UNKNOWN_FUNCTION, 'UNKNOWN_XENAPI_PLUGIN_FUNCTION')
    assert.equal(PLUGIN_FAILURE, 'XENAPI_PLUGIN_FAILURE')
  })
})

describe('encodeOutcome', () => {
  const successes: [string, unknown][] = [
    ['an object', { bridge: 'xapi1', changes: [{ action: 'add-address', cidr: '10.0.0.2/24' }], note: '<&>' }],
    ['an empty object', {}],
    ['a string', 'hello'],
    ['a number', 42],
    ['a boolean', false],
    ['null', null],
    ['undefined (a function that returns nothing)', undefined],
  ]
  for (const [name, value] of successes) {
    test(`success with ${name}: Value is a string of JSON`, () => {
      const xml = encodeOutcome({ ok: true, value })
      assert.ok(xml.endsWith('</methodResponse>\n'))
      assert.ok(!xml.startsWith('<?xml'))
      const response = decodeMethodResponse(xml)
      assert.equal(response.kind, 'value')
      const struct = (response as { value: Record<string, unknown> }).value
      assert.deepEqual(Object.keys(struct).sort(), ['Status', 'Value'])
      assert.equal(struct.Status, 'Success')
      assert.equal(typeof struct.Value, 'string', `Value must be a string, got ${JSON.stringify(struct.Value)}`)
      if (value !== undefined) assert.deepEqual(JSON.parse(struct.Value as string), value)
    })
  }

  test('the Value string is a bare <value> (what xapi decodes)', () => {
    const xml = encodeOutcome({ ok: true, value: { a: 1 } })
    assert.ok(xml.includes('<member><name>Value</name><value>{"a":1}</value></member>'), xml)
  })

  test('failure: Status and ErrorDescription, an array of strings', () => {
    const outcome: Outcome = {
      ok: false,
      errorDescription: ['VIF_IP_BINDER_INVALID_ARGUMENT', 'addresses: "10.0.0.1/33" <bad> & worse', ''],
    }
    assert.deepEqual(decodeMethodResponse(encodeOutcome(outcome)), {
      kind: 'value',
      value: {
        Status: 'Failure',
        ErrorDescription: ['VIF_IP_BINDER_INVALID_ARGUMENT', 'addresses: "10.0.0.1/33" <bad> & worse', ''],
      },
    })
  })

  test('Python reads both outcomes the way xapi expects', async () => {
    assert.deepEqual(await pythonLoads(encodeOutcome({ ok: true, value: { changes: [], unchanged: ['x & y'] } })), [
      [{ Status: 'Success', Value: '{"changes":[],"unchanged":["x & y"]}' }],
      null,
    ])
    assert.deepEqual(
      await pythonLoads(
        encodeOutcome({ ok: false, errorDescription: errorDescriptionOf('apply', new Error('<oops>')) }),
      ),
      [[{ Status: 'Failure', ErrorDescription: ['XENAPI_PLUGIN_FAILURE', 'apply', 'Error', '<oops>'] }], null],
    )
  })
})
