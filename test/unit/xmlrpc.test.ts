// XML-RPC codec in xapi's dialect, plus a cross-check against Python's xmlrpc.client,
// an implementation we did not write.

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { execa } from 'execa'
import {
  type XmlRpcValue,
  XmlRpcSyntaxError,
  decodeMethodCall,
  decodeMethodResponse,
  encodeFault,
  encodeMethodCall,
  encodeMethodResponse,
  encodeValue,
  escapeXml,
} from '../../shared/xmlrpc.ts'

/** A methodCall carrying one param whose <value> element is `value`. */
const callWith = (value: string, methodName = 'f') =>
  `<methodCall><methodName>${methodName}</methodName><params><param>${value}</param></params></methodCall>`

const decodeOne = (value: string): XmlRpcValue => {
  const { params } = decodeMethodCall(callWith(value))
  assert.equal(params.length, 1)
  return params[0]!
}

describe('decode: scalar values', () => {
  const cases: [string, string, XmlRpcValue][] = [
    ['xapi bare string', '<value>xapi1</value>', 'xapi1'],
    ['xapi empty string <value/>', '<value/>', ''],
    ['empty <value></value>', '<value></value>', ''],
    ['python <string>', '<value><string>xapi1</string></value>', 'xapi1'],
    ['python empty <string/>', '<value><string/></value>', ''],
    ['python empty <string></string>', '<value><string></string></value>', ''],
    ['bare string keeps inner spaces', '<value> a  b </value>', ' a  b '],
    ['whitespace-only bare string is data', '<value>   </value>', '   '],
    ['whitespace-only <string> is data', '<value><string>  </string></value>', '  '],
    ['newline in a string', '<value>line1\nline2</value>', 'line1\nline2'],
    ['predefined entities', '<value>&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos;</value>', '<a> & "b" \'c\''],
    ['entities inside <string>', '<value><string>x&amp;y&lt;z</string></value>', 'x&y<z'],
    ['decimal and hex character references', '<value>&#65;&#x42;&#x00e9;</value>', 'ABé'],
    ['literal UTF-8', '<value>żółw ☃ 🐢</value>', 'żółw ☃ 🐢'],
    ['CDATA section', '<value><![CDATA[<not> & markup]]></value>', '<not> & markup'],
    ['<int>', '<value><int>42</int></value>', 42],
    ['<i4> negative', '<value><i4>-7</i4></value>', -7],
    ['<i8> beyond 32 bits', '<value><i8>4294967296</i8></value>', 4294967296],
    ['<int> with a plus sign and layout', '<value><int> +3 </int></value>', 3],
    ['<boolean>1', '<value><boolean>1</boolean></value>', true],
    ['<boolean>0', '<value><boolean>0</boolean></value>', false],
    ['<double>', '<value><double>-1.5</double></value>', -1.5],
    ['<double> exponent', '<value><double>1e3</double></value>', 1000],
    ['<nil/>', '<value><nil/></value>', null],
    ['xapi int64 is a bare string', '<value>1024</value>', '1024'],
  ]
  for (const [name, xml, expected] of cases) {
    test(name, () => assert.deepEqual(decodeOne(xml), expected))
  }
})

describe('decode: arrays and structs', () => {
  test('array of mixed values, in order', () => {
    const xml =
      '<value><array><data><value>a</value><value><string>b</string></value><value/>' +
      '<value><int>3</int></value><value><boolean>1</boolean></value></data></array></value>'
    assert.deepEqual(decodeOne(xml), ['a', 'b', '', 3, true])
  })

  test('empty arrays: <data/> and <data></data>', () => {
    assert.deepEqual(decodeOne('<value><array><data/></array></value>'), [])
    assert.deepEqual(decodeOne('<value><array><data></data></array></value>'), [])
  })

  test('struct with both string forms and an empty value', () => {
    const xml =
      '<value><struct>' +
      '<member><name>bridge</name><value>xapi1</value></member>' +
      '<member><name>addresses</name><value><string>10.0.0.2/24</string></value></member>' +
      '<member><name>gateway</name><value/></member>' +
      '</struct></value>'
    assert.deepEqual(decodeOne(xml), { bridge: 'xapi1', addresses: '10.0.0.2/24', gateway: '' })
  })

  test('member names decode entities', () => {
    assert.deepEqual(
      decodeOne('<value><struct><member><name>a&amp;b</name><value>v</value></member></struct></value>'),
      {
        'a&b': 'v',
      },
    )
  })

  test('empty struct', () => {
    assert.deepEqual(decodeOne('<value><struct></struct></value>'), {})
    assert.deepEqual(decodeOne('<value><struct/></value>'), {})
  })

  test('nested arrays and structs, pretty-printed layout is ignored', () => {
    const xml = `<value>
      <struct>
        <member>
          <name>list</name>
          <value><array>
            <data>
              <value><struct><member><name>k</name><value>v</value></member></struct></value>
              <value><array><data><value><i4>1</i4></value></data></array></value>
            </data>
          </array></value>
        </member>
      </struct>
    </value>`
    assert.deepEqual(decodeOne(xml), { list: [{ k: 'v' }, [1]] })
  })

  test('a member named __proto__ is kept as data, not swallowed by the prototype', () => {
    const value = decodeOne('<value><struct><member><name>__proto__</name><value>x</value></member></struct></value>')
    assert.equal(typeof value, 'object')
    assert.ok(Object.hasOwn(value as object, '__proto__'), 'member "__proto__" disappeared')
    assert.equal(Object.getOwnPropertyDescriptor(value as object, '__proto__')?.value, 'x')
  })
})

describe('decode: documents', () => {
  test('xapi methodCall: no prolog, session then args struct', () => {
    const xml =
      '<methodCall><methodName>apply</methodName><params>' +
      '<param><value>OpaqueRef:1234-abcd</value></param>' +
      '<param><value><struct><member><name>bridge</name><value>xapi3</value></member></struct></value></param>' +
      '</params></methodCall>'
    assert.deepEqual(decodeMethodCall(xml), {
      methodName: 'apply',
      params: ['OpaqueRef:1234-abcd', { bridge: 'xapi3' }],
    })
  })

  test('prolog and surrounding layout are accepted', () => {
    const xml =
      "<?xml version='1.0'?>\n<methodCall>\n<methodName> status </methodName>\n<params>\n</params>\n</methodCall>\n"
    assert.deepEqual(decodeMethodCall(xml), { methodName: 'status', params: [] })
  })

  test('methodCall without <params> has no params', () => {
    assert.deepEqual(decodeMethodCall('<methodCall><methodName>version</methodName></methodCall>'), {
      methodName: 'version',
      params: [],
    })
  })

  test('methodResponse value', () => {
    assert.deepEqual(
      decodeMethodResponse('<methodResponse><params><param><value>ok</value></param></params></methodResponse>'),
      {
        kind: 'value',
        value: 'ok',
      },
    )
  })

  test('methodResponse fault', () => {
    const xml =
      '<methodResponse><fault><value><struct>' +
      '<member><name>faultCode</name><value><int>-32601</int></value></member>' +
      '<member><name>faultString</name><value>no such &lt;method&gt;</value></member>' +
      '</struct></value></fault></methodResponse>'
    assert.deepEqual(decodeMethodResponse(xml), { kind: 'fault', faultCode: -32601, faultString: 'no such <method>' })
  })
})

describe('decode: rejects what is not XML-RPC with XmlRpcSyntaxError', () => {
  const doc = (params: string) => `<methodCall><methodName>f</methodName><params>${params}</params></methodCall>`
  const cases: [string, string, RegExp?][] = [
    ['empty input', ''],
    ['plain text', 'hello world'],
    ['JSON', '{"methodName":"f"}'],
    ['wrong root', '<methodResponse><params/></methodResponse>'],
    [
      'two roots',
      '<methodCall><methodName>f</methodName></methodCall><methodCall><methodName>g</methodName></methodCall>',
    ],
    ['trailing element after the root', '<methodCall><methodName>f</methodName></methodCall><extra/>'],
    ['missing methodName', '<methodCall><params></params></methodCall>'],
    ['DOCTYPE', '<!DOCTYPE methodCall><methodCall><methodName>f</methodName></methodCall>', /DTD/],
    [
      'entity declaration (billion laughs shape)',
      '<!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><methodCall><methodName>&b;</methodName></methodCall>',
      /DTD/,
    ],
    ['lowercase doctype', '<!doctype methodCall><methodCall><methodName>f</methodName></methodCall>', /DTD/],
    ['truncated document', '<methodCall><methodName>f</methodName><params><param><value>'],
    [
      'truncated inside args struct',
      doc(
        '<param><value>s</value></param><param><value><struct><member><name>bridge</name><value>xapi1</value></member>',
      ).replace('</params></methodCall>', ''),
    ],
    ['mismatched closing tag', doc('<param><value>x</param></params>')],
    ['unescaped < in a string', doc('<param><value>a<b</value></param>')],
    ['unknown type', doc('<param><value><float>1</float></value></param>'), /float/],
    ['two typed elements in one value', doc('<param><value><int>1</int><int>2</int></value></param>')],
    ['bad int', doc('<param><value><int>1.5</int></value></param>'), /int/],
    ['empty int', doc('<param><value><int></int></value></param>')],
    ['bad i4', doc('<param><value><i4>ten</i4></value></param>')],
    ['boolean spelled true', doc('<param><value><boolean>true</boolean></value></param>'), /boolean/],
    ['boolean 2', doc('<param><value><boolean>2</boolean></value></param>')],
    ['bad double', doc('<param><value><double>abc</double></value></param>'), /double/],
    ['empty double', doc('<param><value><double></double></value></param>')],
    ['array without data', doc('<param><value><array></array></value></param>'), /data/],
    ['non-value in data', doc('<param><value><array><data><string>x</string></data></array></value></param>')],
    ['member without name', doc('<param><value><struct><member><value>x</value></member></struct></value></param>')],
    ['member without value', doc('<param><value><struct><member><name>x</name></member></struct></value></param>')],
    ['non-member in struct', doc('<param><value><struct><value>x</value></struct></value></param>')],
    ['non-param in params', doc('<value>x</value>')],
    ['param with two values', doc('<param><value>a</value><value>b</value></param>')],
    ['empty param', doc('<param></param>')],
  ]
  for (const [name, xml, pattern] of cases) {
    test(name, () => {
      assert.throws(
        () => decodeMethodCall(xml),
        (error: unknown) => {
          assert.ok(error instanceof XmlRpcSyntaxError, `expected XmlRpcSyntaxError, got ${String(error)}`)
          assert.equal(error.name, 'XmlRpcSyntaxError')
          if (pattern) assert.match(error.message, pattern)
          return true
        },
      )
    })
  }

  test('a response must hold exactly one param', () => {
    for (const xml of [
      '<methodResponse><params></params></methodResponse>',
      '<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>',
    ]) {
      assert.throws(() => decodeMethodResponse(xml), XmlRpcSyntaxError)
    }
  })

  test('a methodCall is not a response', () => {
    assert.throws(() => decodeMethodResponse('<methodCall><methodName>f</methodName></methodCall>'), XmlRpcSyntaxError)
  })
})

describe('encode: xapi form', () => {
  const cases: [string, XmlRpcValue, string][] = [
    ['bare string', 'xapi1', '<value>xapi1</value>'],
    ['empty string is <value/>', '', '<value/>'],
    ['escapes markup characters', 'a<b>&c', '<value>a&lt;b&gt;&amp;c</value>'],
    ['boolean true', true, '<value><boolean>1</boolean></value>'],
    ['boolean false', false, '<value><boolean>0</boolean></value>'],
    ['integer as a bare string (xapi int64)', 42, '<value>42</value>'],
    ['double', 2.5, '<value><double>2.5</double></value>'],
    ['null is <nil/>', null, '<value><nil/></value>'],
    ['empty array', [], '<value><array><data></data></array></value>'],
    ['array', ['a', ''], '<value><array><data><value>a</value><value/></data></array></value>'],
    ['empty struct', {}, '<value><struct></struct></value>'],
    [
      'struct, member names escaped',
      { 'a&b': 'x', Status: 'Success' },
      '<value><struct><member><name>a&amp;b</name><value>x</value></member><member><name>Status</name><value>Success</value></member></struct></value>',
    ],
  ]
  for (const [name, value, expected] of cases) {
    test(name, () => assert.equal(encodeValue(value), expected))
  }

  test('escapeXml escapes exactly &, < and >', () => {
    assert.equal(escapeXml(`&<>"'x`), `&amp;&lt;&gt;"'x`)
  })

  test('no prolog on any document', () => {
    assert.equal(
      encodeMethodResponse('ok'),
      '<methodResponse><params><param><value>ok</value></param></params></methodResponse>',
    )
    assert.equal(
      encodeMethodCall('a&b', ['OpaqueRef:x', {}]),
      '<methodCall><methodName>a&amp;b</methodName><params><param><value>OpaqueRef:x</value></param><param><value><struct></struct></value></param></params></methodCall>',
    )
  })

  test('fault: faultCode is a real <int>', () => {
    assert.equal(
      encodeFault(-1.9, 'x<y'),
      '<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-1</int></value></member>' +
        '<member><name>faultString</name><value>x&lt;y</value></member></struct></value></fault></methodResponse>',
    )
    assert.deepEqual(decodeMethodResponse(encodeFault(42, 'broken & gone')), {
      kind: 'fault',
      faultCode: 42,
      faultString: 'broken & gone',
    })
  })
})

describe('round trips through our own decoder', () => {
  // Integers are left out on purpose: xapi's form writes them bare, so they read back as strings.
  const values: [string, XmlRpcValue][] = [
    ['plain string', 'hello'],
    ['empty string', ''],
    ['markup and entities', '<tag attr="v">&amp; &lt; ]]> \'q\''],
    ['spaces and newlines', '  two\nlines  '],
    ['unicode', 'żółw ☃ 🐢'],
    ['booleans and null', [true, false, null]],
    ['doubles', [0.5, -1.25, 1e-7]],
    ['nested', { a: ['x', '', { b: [true, null, 'y&z'] }], c: {}, d: [] }],
    [
      'plugin result shape',
      { Status: 'Failure', ErrorDescription: ['VIF_IP_BINDER_INVALID_ARGUMENT', 'addresses: "10.0.0.1/33" <bad>', ''] },
    ],
  ]
  for (const [name, value] of values) {
    test(`${name}: response`, () =>
      assert.deepEqual(decodeMethodResponse(encodeMethodResponse(value)), { kind: 'value', value }))
    test(`${name}: call`, () =>
      assert.deepEqual(decodeMethodCall(encodeMethodCall('fn', ['OpaqueRef:s', value])), {
        methodName: 'fn',
        params: ['OpaqueRef:s', value],
      }))
  }

  test('integers come back as the strings xapi would send', () => {
    assert.deepEqual(decodeMethodResponse(encodeMethodResponse([0, -5, 1024])), {
      kind: 'value',
      value: ['0', '-5', '1024'],
    })
  })
})

// ---------------------------------------------------------------------------------------
// Cross-check with Python's xmlrpc.client (the library XenAPIPlugin.py is built on).

const PYTHON_DUMPS = `
import json, sys, xmlrpc.client
spec = json.load(sys.stdin)
sys.stdout.write(xmlrpc.client.dumps(tuple(spec["params"]), methodname=spec["method"], allow_none=True))
`

const PYTHON_LOADS = `
import json, sys, xmlrpc.client
try:
    params, method = xmlrpc.client.loads(sys.stdin.read())
    json.dump({"params": list(params), "method": method}, sys.stdout)
except xmlrpc.client.Fault as fault:
    json.dump({"fault": {"code": fault.faultCode, "string": fault.faultString}}, sys.stdout)
`

async function python(script: string, input: string): Promise<string> {
  const { stdout } = await execa('python3', ['-c', script], { input, stripFinalNewline: false })
  return stdout
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const pythonCallCases: [string, string, Json[]][] = [
  [
    'plugin call with string args',
    'apply',
    ['OpaqueRef:0f9e-77', { bridge: 'xapi1', addresses: '10.0.0.2/24, fd00::2/64', gateway: '' }],
  ],
  [
    'markup, quotes, entities, unicode',
    'status',
    ['', { 'k&<>': `a&b<c>d"e'f ]]> żółw 🐢`, spaces: '  x  ', nl: 'a\nb' }],
  ],
  ['ints, booleans, doubles, nil', 'version', [7, -2147483648, true, false, 1.5, -0.25, null]],
  ['nested arrays and structs', 'deep', [[[], {}, ['x', { y: [1, 'z'] }]], { a: { b: { c: [true] } } }]],
  ['no params', 'version', []],
]

describe('cross-check: Python builds, we decode', () => {
  for (const [name, method, params] of pythonCallCases) {
    test(name, async () => {
      const xml = await python(PYTHON_DUMPS, JSON.stringify({ method, params }))
      assert.match(xml, /<methodCall>/) // Python really produced a document
      if (params.some(p => typeof p === 'string' && p !== '')) assert.match(xml, /<string>/) // in its own <string> form
      assert.deepEqual(decodeMethodCall(xml), { methodName: method, params })
    })
  }
})

describe('cross-check: we encode, Python decodes', () => {
  const cases: [string, XmlRpcValue, Json][] = [
    ['bare string', 'xapi1', 'xapi1'],
    ['empty string <value/>', '', ''],
    ['markup and unicode', `a&b<c>d"e'f ]]> żółw 🐢`, `a&b<c>d"e'f ]]> żółw 🐢`],
    ['leading/trailing spaces', '  x  ', '  x  '],
    ['booleans, doubles, nil', [true, false, 1.5, -0.25, null], [true, false, 1.5, -0.25, null]],
    ['integers read as strings (xapi int64 form)', [3, -4], ['3', '-4']],
    [
      'plugin success',
      { Status: 'Success', Value: JSON.stringify({ changes: [], note: '<&>' }) },
      { Status: 'Success', Value: '{"changes":[],"note":"<&>"}' },
    ],
    [
      'plugin failure',
      { Status: 'Failure', ErrorDescription: ['VIF_IP_BINDER_CONFLICT', 'routes: 10.9.0.0/16 & more', ''] },
      { Status: 'Failure', ErrorDescription: ['VIF_IP_BINDER_CONFLICT', 'routes: 10.9.0.0/16 & more', ''] },
    ],
    ['nested', { a: [[], {}, ['x', { y: [''] }]] }, { a: [[], {}, ['x', { y: [''] }]] }],
  ]
  for (const [name, value, expected] of cases) {
    test(name, async () => {
      const out = JSON.parse(await python(PYTHON_LOADS, encodeMethodResponse(value))) as unknown
      assert.deepEqual(out, { params: [expected], method: null })
    })
  }

  test('fault', async () => {
    const out = JSON.parse(await python(PYTHON_LOADS, encodeFault(17, 'it & broke'))) as unknown
    assert.deepEqual(out, { fault: { code: 17, string: 'it & broke' } })
  })

  test('methodCall', async () => {
    const out = JSON.parse(
      await python(PYTHON_LOADS, encodeMethodCall('apply', ['OpaqueRef:x', { bridge: 'xapi1', gateway: '' }])),
    ) as unknown
    assert.deepEqual(out, { params: ['OpaqueRef:x', { bridge: 'xapi1', gateway: '' }], method: 'apply' })
  })
})
