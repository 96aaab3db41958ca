import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Ajv } from 'ajv'
import { parsePluginConfig } from '../../shared/binding.ts'
import { RENDERED_KEYWORDS, configurationPresets, configurationSchema } from '../../xo-plugin/schema.ts'

type Schema = Record<string, unknown>

/** Every keyword used anywhere in a schema, with the path where `$type` appears. */
function walk(schema: Schema, path: string, keywords: Set<string>, pickers: Map<string, string>): void {
  for (const [key, value] of Object.entries(schema)) {
    keywords.add(key)
    if (key === '$type') pickers.set(path, String(value))
  }
  if (schema.properties)
    for (const [name, child] of Object.entries(schema.properties as Record<string, Schema>))
      walk(child, `${path}.${name}`, keywords, pickers)
  if (schema.items) walk(schema.items as Schema, `${path}[]`, keywords, pickers)
}

// xo-server's own validator settings (packages/xo-server/src/xo-mixins/plugins.mjs).
function xoServerAjv() {
  return new Ajv({ strict: true, useDefaults: true }).addVocabulary(['$type', 'enumNames'])
}

describe('configurationSchema', () => {
  it('uses only keywords that xo-web renders', () => {
    for (const schema of [configurationSchema]) {
      const keywords = new Set<string>()
      walk(schema as unknown as Schema, '', keywords, new Map())
      const unrendered = [...keywords].filter(k => !RENDERED_KEYWORDS.has(k))
      assert.deepEqual(unrendered, [])
    }
  })

  it('has pickers only on the VM and SR fields, the SR picker one level under the binding', () => {
    const pickers = new Map<string, string>()
    walk(configurationSchema as unknown as Schema, '', new Set(), pickers)
    // xo-web squeezes a picker three levels deep (binding, storage item, SR) to ~150 px.
    assert.deepEqual(Object.fromEntries(pickers), { '.bindings[].vm': 'VM', '.bindings[].storage[]': 'SR' })
  })

  it("still reads the earlier per-SR form of a binding's storage", () => {
    const sr = '0d6b9e3c-8f1a-4c55-9d0e-2a4b6c8d0e1f'
    const other = '1d6b9e3c-8f1a-4c55-9d0e-2a4b6c8d0e1f'
    const validate = xoServerAjv().compile(configurationSchema)
    const config = {
      bindings: [
        {
          vm: 'x',
          addresses: ['192.0.2.2/24'],
          srs: [{ sr, probe: 'tcp:192.0.2.10:2049' }],
          storage: [other],
          storageProbe: 'icmp:192.0.2.11',
        },
      ],
    }
    assert.equal(validate(config), true)
    assert.deepEqual(parsePluginConfig(config).bindings[0]!.srs, [
      { sr, probe: 'tcp:192.0.2.10:2049' },
      { sr: other, probe: 'icmp:192.0.2.11' },
    ])
  })

  it('has no testSchema: xo-server refuses an untouched Test form when there is one', async () => {
    const index = await import('../../xo-plugin/index.ts')
    assert.equal((index.default as { testSchema?: unknown }).testSchema, undefined)
  })

  it('titles and describes every field', () => {
    const missing: string[] = []
    const visit = (schema: Schema, path: string) => {
      if (typeof schema.title !== 'string' || !schema.title) missing.push(`${path} title`)
      if (schema.properties) {
        for (const [name, child] of Object.entries(schema.properties as Record<string, Schema>)) {
          if (typeof child.description !== 'string') missing.push(`${path}.${name} description`)
          visit(child, `${path}.${name}`)
        }
      }
      if (schema.items) visit(schema.items as Schema, `${path}[]`)
    }
    visit(configurationSchema as unknown as Schema, '')
    assert.deepEqual(missing, [])
  })

  it('compiles in strict ajv as xo-server uses it, fills defaults and requires bindings', () => {
    const validate = xoServerAjv().compile(configurationSchema)
    assert.equal(validate({}), false)
    const config: Record<string, unknown> = { bindings: [{ vm: 'x', network: 'n', addresses: ['192.0.2.2/24'] }] }
    assert.equal(validate(config), true)
    assert.equal(config.gatewayCheckSeconds, 10)
    const binding = (config.bindings as Record<string, unknown>[])[0]!
    assert.equal(binding.proxyArp, false)
    assert.equal(binding.forwarding, false)
    assert.equal(validate({ bindings: [{ network: 'n', addresses: [] }] }), false)
    assert.equal(
      validate({ bindings: [{ vm: 'x', addresses: ['192.0.2.2/24'] }] }),
      true,
      'the network may be left empty',
    )
  })

  it('offers presets that name no network or VM the pool may lack, and parse once the admin picks the VM', () => {
    assert.doesNotMatch(JSON.stringify(configurationPresets), /"network"|"vm"/)
    const validate = xoServerAjv().compile(configurationSchema)
    assert.ok(Object.keys(configurationPresets).length >= 1)
    for (const [name, preset] of Object.entries(configurationPresets)) {
      const config = structuredClone(preset) as { bindings: Record<string, unknown>[] }
      for (const b of config.bindings) b.vm = '0d6b9e3c-8f1a-4c55-9d0e-2a4b6c8d0e1f'
      assert.equal(validate(config), true, `${name}: ${JSON.stringify(validate.errors)}`)
      assert.doesNotThrow(() => parsePluginConfig(config as never), name)
    }
  })
})
