import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Ajv } from 'ajv'
import { POOL_CONFIG_KEY, encodePoolConfig, parseBinding, toPoolBinding } from '../../shared/binding.ts'
import { XapiError } from '../../shared/errors.ts'
import {
  STAGING_PREFIX,
  encodePoolDocument,
  readPoolDocument,
  writePoolDocument,
  writerId,
} from '../../shared/pool-document.ts'
import { poolDocumentSchema } from '../../shared/pool-schema.ts'

const VM = '0d6b9e3c-8f1a-4c55-9d0e-2a4b6c8d0e1f'
const NET = '5e2a7c1d-3b4f-4e6a-8c9d-0f1e2d3c4b5a'

function documentText(gatewayCheckSeconds: number, at = new Date().toISOString()): string {
  const binding = toPoolBinding(
    parseBinding({ vm: VM, network: NET, addresses: ['192.0.2.2/24'], gateways: ['192.0.2.1'] }, 0),
    VM,
    NET,
  )
  return encodePoolDocument(
    { version: 1, gatewayCheckSeconds, rescue: false, bindings: [binding] },
    { by: 'host', host: VM, at },
  )
}

/** pool.other_config as xapi's database keeps it: add of an existing key fails, remove of a missing one is silent. */
class PoolMap {
  map: Record<string, string> = { 'xo:clientInfo:x': '{}' }
  readonly snapshots: Record<string, string>[] = []
  call = async (method: string, _ref: unknown, key: unknown, value?: unknown): Promise<unknown> => {
    // Every call yields: concurrent writers interleave at each step, as they do over the network.
    await new Promise(resolve => setImmediate(resolve))
    const next = { ...this.map }
    if (method === 'pool.add_to_other_config') {
      if (Object.hasOwn(next, String(key)))
        throw new XapiError('MAP_DUPLICATE_KEY', ['pool', 'other_config', 'ref', String(key)])
      next[String(key)] = String(value)
    } else if (method === 'pool.remove_from_other_config') delete next[String(key)]
    else throw new Error(`unexpected ${method}`)
    this.map = next
    this.snapshots.push(next)
    return ''
  }
}

describe('the pool document: reading', () => {
  it('reads the main key, else the newest staging copy, else says missing', () => {
    const older = documentText(10, '2026-01-01T00:00:00.000Z')
    const newer = documentText(11, '2026-01-02T00:00:00.000Z')
    assert.equal(readPoolDocument({}).state, 'missing')
    const staged = readPoolDocument({ [`${STAGING_PREFIX}a`]: older, [`${STAGING_PREFIX}b`]: newer })
    assert.equal(staged.state === 'ok' && staged.source, 'staging')
    assert.equal(staged.state === 'ok' && staged.config.gatewayCheckSeconds, 11)
    const main = readPoolDocument({ [POOL_CONFIG_KEY]: older, [`${STAGING_PREFIX}b`]: newer })
    assert.equal(main.state === 'ok' && main.config.gatewayCheckSeconds, 10, 'the main key wins while it is there')
    assert.equal(main.state === 'ok' && main.writtenBy?.by, 'host')
  })

  it('an unreadable document is reported, not taken for an empty one', () => {
    for (const text of ['{', '{"version":9,"bindings":[]}', '{"version":1,"bindings":[{"vm":"x"}]}']) {
      const read = readPoolDocument({ [POOL_CONFIG_KEY]: text })
      assert.equal(read.state, 'unreadable', text)
      assert.equal(read.state === 'unreadable' && read.error.code, 'VIF_IP_BINDER_INVALID_ARGUMENT')
    }
  })
})

describe('the pool document: writing', () => {
  it('100 rewrites by racing writers: no snapshot of the map is ever without a document, no foreign key is lost', async () => {
    const pool = new PoolMap()
    pool.map[POOL_CONFIG_KEY] = documentText(0)
    const writes = Array.from({ length: 100 }, (_, i) =>
      writePoolDocument(
        pool.call,
        'OpaqueRef:pool',
        documentText(1 + (i % 50)),
        { ...pool.map },
        writerId(`w${i % 3}`),
      ),
    )
    await Promise.all(writes)
    assert.ok(pool.snapshots.length >= 300)
    for (const snapshot of pool.snapshots)
      assert.equal(readPoolDocument(snapshot).state, 'ok', JSON.stringify(Object.keys(snapshot)))
    assert.deepEqual(
      Object.keys(pool.map).sort(),
      [POOL_CONFIG_KEY, 'xo:clientInfo:x'],
      'staging keys gone, the foreign key kept',
    )
  })

  it('the remove-then-add it replaces does leave a moment without one', async () => {
    const pool = new PoolMap()
    pool.map[POOL_CONFIG_KEY] = documentText(0)
    await pool.call('pool.remove_from_other_config', 'OpaqueRef:pool', POOL_CONFIG_KEY)
    await pool.call('pool.add_to_other_config', 'OpaqueRef:pool', POOL_CONFIG_KEY, documentText(1))
    assert.equal(readPoolDocument(pool.snapshots[0]!).state, 'missing')
  })

  it('skips a write of the same text, and sweeps staging copies left by a dead writer', async () => {
    const pool = new PoolMap()
    const text = documentText(3)
    pool.map[POOL_CONFIG_KEY] = text
    assert.equal(await writePoolDocument(pool.call, 'r', text, { ...pool.map }, 'me'), 'unchanged')
    pool.map[`${STAGING_PREFIX}dead`] = documentText(4, '2020-01-01T00:00:00.000Z')
    assert.equal(await writePoolDocument(pool.call, 'r', documentText(5), { ...pool.map }, 'me'), 'written')
    assert.deepEqual(
      Object.keys(pool.map).filter(k => k.startsWith(STAGING_PREFIX)),
      [],
    )
  })
})

describe('the JSON Schema of the pool document', () => {
  const validate = new Ajv({ strict: false }).compile(poolDocumentSchema)

  it('accepts what the writers write', () => {
    assert.ok(validate(JSON.parse(documentText(10))), JSON.stringify(validate.errors))
    const legacy = JSON.parse(encodePoolConfig({ version: 1, gatewayCheckSeconds: 10, rescue: false, bindings: [] }))
    assert.ok(validate(legacy), JSON.stringify(validate.errors))
  })

  it('refuses what the reader refuses', () => {
    const good = JSON.parse(documentText(10))
    const bad = [
      { ...good, version: 2 },
      { ...good, gatewayCheckSeconds: -1 },
      { ...good, rescue: 'yes' },
      { ...good, bindings: [{ ...good.bindings[0], vm: 'firewall' }] },
      { ...good, bindings: [{ ...good.bindings[0], addresses: [] }] },
      { ...good, bindings: [{ ...good.bindings[0], routes: ['10.0.0.0/8,10.1.0.0/16'] }] },
    ]
    for (const document of bad) {
      assert.equal(validate(document), false, JSON.stringify(document))
      assert.equal(readPoolDocument({ [POOL_CONFIG_KEY]: JSON.stringify(document) }).state, 'unreadable')
    }
    // A typo in a field name: the schema refuses it; configure does too (it checks field names).
    assert.equal(validate({ ...good, bindings: [{ ...good.bindings[0], gateway: ['192.0.2.1'] }] }), false)
  })
})
