// The command line an admin meets at dom0's console: help for every function from the same
// list the parsers accept, suggestions for typos, a summary on a terminal and the JSON with
// --json, and errors that say what to do. The compiled executable, run by hand.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { execa } from 'execa'
import { FUNCTION_SPECS } from '../../shared/function-spec.ts'
import { FUNCTION_KEYS, rejectUnknownKeys } from '../../shared/plugin-args.ts'
import { handFunctionNames } from '../../xapi-plugin/entry/call.ts'
import { HOST_PLUGIN, XAPI_PATH } from '../helpers/host-plugin.ts'

const root = mkdtempSync(join(tmpdir(), `vib-int-${process.pid}-cli-`))
after(() => rmSync(root, { recursive: true, force: true }))

function run(...words: string[]) {
  return execa(HOST_PLUGIN, words, {
    env: { PATH: XAPI_PATH, VIF_IP_BINDER_ROOT: root },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  })
}

/** On a terminal: a pseudo-terminal from Python's pty module (no shell involved). */
function onTerminal(...words: string[]) {
  const spawn = 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)'
  return execa(
    'python3',
    ['-c', spawn, 'env', '-i', `PATH=${XAPI_PATH}`, `VIF_IP_BINDER_ROOT=${root}`, HOST_PLUGIN, ...words],
    {
      reject: false,
      stdin: 'ignore',
    },
  )
}

describe('help', () => {
  test('every function the executable runs has help, and nothing else does', () => {
    assert.deepEqual(handFunctionNames().sort(), FUNCTION_SPECS.map(s => s.name).sort())
  })

  for (const spec of FUNCTION_SPECS) {
    test(`${spec.name} --help names every argument the parser accepts, with an example and its xe form`, async () => {
      const help = await run(spec.name, '--help')
      assert.equal(help.exitCode, 0, help.stderr)
      const accepted = FUNCTION_KEYS[spec.name]!
      for (const key of accepted) {
        assert.match(help.stdout, new RegExp(`^  ${key}=`, 'm'), `${spec.name} --help names ${key}`)
        assert.doesNotThrow(() => rejectUnknownKeys(spec.name, { [key]: 'x' }), `the parser accepts ${key}`)
      }
      assert.throws(
        () => rejectUnknownKeys(spec.name, { 'not-an-argument': 'x' }),
        /unknown argument "not-an-argument"/,
      )
      assert.match(help.stdout, /^example:\n {2}vif-ip-binder /m)
      if (spec.viaXapi)
        assert.match(
          help.stdout,
          new RegExp(`xe host-call-plugin host-uuid=<host-uuid> plugin=vif-ip-binder fn=${spec.name}`),
        )
      assert.equal((await run('help', spec.name)).stdout, help.stdout, '`help FUNCTION` says the same')
    })
  }

  test('help, --help and no arguments list every function; --version answers', async () => {
    const help = await run('help')
    assert.equal(help.exitCode, 0)
    for (const spec of FUNCTION_SPECS) assert.match(help.stdout, new RegExp(`^ {2}${spec.name} `, 'm'))
    assert.equal((await run('--help')).stdout, help.stdout)
    const bare = await run()
    assert.equal(bare.exitCode, 2)
    assert.equal(bare.stderr, help.stdout)
    const version = await run('--version', '--json')
    assert.equal(version.exitCode, 0, version.stderr)
    assert.equal(JSON.parse(version.stdout).name, 'vif-ip-binder')
    assert.deepEqual(JSON.parse(version.stdout).installed.parts, {
      plugin: false,
      hook: false,
      'boot unit': false,
      'boot unit enabled': false,
    })
  })
})

describe('typos', () => {
  test('an unknown function or argument gets the nearest valid one', async () => {
    const fn = await run('aply', 'bridge=xapi1')
    assert.equal(fn.exitCode, 2)
    assert.match(fn.stderr, /unknown function "aply" \(did you mean "apply"\?\)/)
    assert.match((await run('help', 'staus')).stderr, /did you mean "status"\?/)
    assert.match((await run('show-confg')).stderr, /did you mean "show-config"\?/)
    const arg = await run('apply', 'bridge=xapi1', 'adresses=192.0.2.2/24')
    assert.equal(arg.exitCode, 1)
    assert.match(
      arg.stderr,
      /^VIF_IP_BINDER_INVALID_ARGUMENT: apply: unknown argument "adresses" \(did you mean "addresses"\?\)/,
    )
    assert.match((await run('pause', 'reasn=x')).stderr, /did you mean "reason"\?/)
    const words = await run('status', 'bridge')
    assert.equal(words.exitCode, 2)
    assert.match(words.stderr, /expected key=value, got "bridge"[\s\S]*usage: vif-ip-binder status/)
  })
})

describe('output', () => {
  test('status of a bridge that does not exist says so, on a terminal and in the JSON', async () => {
    const json = await run('status', 'bridge=vib-none0')
    assert.equal(json.exitCode, 0, json.stderr)
    const bridge = JSON.parse(json.stdout).bridges['vib-none0']
    assert.equal(bridge.inSync, false)
    assert.match(bridge.problem, /bridge vib-none0 does not exist on this host/)
    const summary = await onTerminal('status', 'bridge=vib-none0')
    assert.equal(summary.exitCode, 0, summary.stdout)
    assert.match(summary.stdout, /vib-none0: NOT IN SYNC/)
    assert.match(summary.stdout, /the bridge vib-none0 does not exist/)
    assert.doesNotMatch(summary.stdout, /^\{/m)
    const forced = await onTerminal('status', 'bridge=vib-none0', '--json')
    assert.equal(JSON.parse(forced.stdout.replace(/\r/g, '')).bridges['vib-none0'].inSync, false)
  })

  test('pause and resume by hand, shown by status', async () => {
    const paused = await run('pause', 'reason=replacing the firewall')
    assert.equal(paused.exitCode, 0, paused.stderr)
    assert.equal(JSON.parse(paused.stdout).published, false, 'no xapi here: the pause holds on the host anyway')
    assert.match((await onTerminal('status')).stdout, /PAUSED since .*: replacing the firewall/)
    assert.equal(JSON.parse((await run('status')).stdout).paused.reason, 'replacing the firewall')
    assert.equal(JSON.parse((await run('resume')).stdout).wasPaused, true)
    assert.equal(JSON.parse((await run('status')).stdout).paused, undefined)
    assert.match((await run('pause')).stderr, /VIF_IP_BINDER_INVALID_ARGUMENT: pause: argument "reason" is required/)
  })

  test('management-address without management-bridge, xapi unreachable: says to pass management-bridge=', async () => {
    const applied = await run('apply', 'bridge=xapi1', 'addresses=192.0.2.2/24', 'management-address=192.0.2.2')
    assert.equal(applied.exitCode, 1)
    assert.match(
      applied.stderr,
      /^VIF_IP_BINDER_XAPI_UNREACHABLE: management-address: .*pass management-bridge=<bridge>/,
    )
  })

  test('configure --file reads the document; a file that cannot be read is said so', async () => {
    const file = join(root, 'bindings.json')
    writeFileSync(file, '{"version": 1, "bindngs": []}')
    const typo = await run('configure', '--file', file)
    assert.equal(typo.exitCode, 1)
    assert.match(typo.stderr, /unknown field "bindngs" \(did you mean "bindings"\?\)/)
    const missing = await run('configure', '--file', join(root, 'nope.json'))
    assert.equal(missing.exitCode, 2)
    assert.match(missing.stderr, /cannot read .*nope\.json/)
  })

  test('schema prints the JSON Schema of the pool document', async () => {
    const schema = JSON.parse((await run('schema')).stdout)
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#')
    assert.deepEqual(schema.required, ['version', 'bindings'])
  })
})
