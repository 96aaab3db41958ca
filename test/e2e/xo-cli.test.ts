// vif-ip-binder-xo against a JSON-RPC xo-server (json-rpc-peer over WebSocket, as xo-lib
// expects) whose plugin host drives the real XO plugin on the simulated pool.

import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { main } from '../../xo-plugin/cli/main.ts'
import { type XoApiServer, startXoApiServer } from '../xo-facade/xo-api-server.ts'
import { type Harness, startHarness } from './helpers.ts'

const account = { email: 'admin@example.org', password: 'secret', token: 'token-of-admin' }
const dir = mkdtempSync(join(tmpdir(), 'vib-xo-cli-'))
let h: Harness
let api: XoApiServer

before(async () => {
  h = await startHarness()
  api = await startXoApiServer(h.plugin, account)
})

after(async () => {
  await api?.close()
  await h?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function run(args: string[], env: Record<string, string> = { XO_URL: api.url, XO_TOKEN: account.token }) {
  const out: string[] = []
  const err: string[] = []
  const status = await main(args, { env, out: line => out.push(line), err: line => err.push(line) })
  return { status, out: out.join('\n'), err: err.join('\n') }
}

describe('vif-ip-binder-xo', { timeout: 120_000 }, () => {
  it('refuses a bad file offline, naming the value, and changes nothing', async () => {
    const file = join(dir, 'bad.json')
    writeFileSync(file, JSON.stringify({ bindings: [{ ...h.binding, addresses: ['10.77.0.300/24'] }] }))
    const result = await run(['push', file])
    assert.equal(result.status, 1)
    assert.match(
      result.err,
      /binding 1 .*addresses: "10\.77\.0\.300\/24" does not start with an IP address\nNothing was changed\./,
    )
    assert.deepEqual(api.calls, [])
  })

  it('pushes a YAML file with the difference shown, then runs the Test', async () => {
    const file = join(dir, 'bindings.yaml')
    const { vm, addresses, gateways } = h.binding
    writeFileSync(
      file,
      `bindings:\n  - vm: ${vm}\n    addresses: [${addresses.join(', ')}]\n    gateways: [${gateways!.join(', ')}]\n`,
    )
    const result = await run(['push', file, '--load'])
    assert.equal(result.status, 0, result.err)
    assert.match(result.out, /^\+ \{/m)
    assert.match(result.out, /Saved in Xen Orchestra\.\nTest: every binding is in order\./)
    assert.deepEqual((await h.xo.getOptionalPlugin('vif-ip-binder'))?.configuration, {
      bindings: [{ vm, addresses, gateways }],
    })
    assert.deepEqual(
      api.calls.filter(c => c.startsWith('plugin.')),
      ['plugin.get', 'plugin.configure', 'plugin.load', 'plugin.test'],
    )
    assert.equal((await run(['diff', file])).out, 'No difference.')
  })

  it('pulls what XO has, tests one binding, and names a binding that does not exist', async () => {
    const file = join(dir, 'pulled.json')
    assert.equal((await run(['pull', file])).status, 0)
    assert.deepEqual(
      JSON.parse(readFileSync(file, 'utf8')),
      (await h.xo.getOptionalPlugin('vif-ip-binder'))?.configuration,
    )
    assert.equal((await run(['test', '--binding', '1'])).status, 0)
    const missing = await run(['test', '--binding', '2'])
    assert.equal(missing.status, 1)
    assert.match(missing.err, /^Test: binding 2 does not exist/)
  })

  it('takes credentials from the environment only, and says which are missing or wrong', async () => {
    assert.match((await run(['pull', join(dir, 'x.json')], {})).err, /XO_URL is not set/)
    assert.match((await run(['pull', join(dir, 'x.json')], { XO_URL: api.url })).err, /set XO_TOKEN/)
    const wrong = await run(['pull', join(dir, 'x.json')], {
      XO_URL: api.url,
      XO_USER: account.email,
      XO_PASSWORD: 'nope',
    })
    assert.equal(wrong.status, 1)
    assert.match(wrong.err, /invalid credentials/)
    assert.equal(
      (await run(['push', join(dir, 'x.json'), '--password', 'x'])).status,
      2,
      'no credentials on the command line',
    )
  })
})
