import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Ajv } from 'ajv'
import { parsePluginConfig } from '../../shared/binding.ts'
import { RENDERED_KEYWORDS, configurationPresets, configurationSchema, testSchema } from '../../xo-plugin/schema.ts'

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
    for (const schema of [configurationSchema, testSchema]) {
      const keywords = new Set<string>()
      walk(schema as unknown as Schema, '', keywords, new Map())
      const unrendered = [...keywords].filter(k => !RENDERED_KEYWORDS.has(k))
      assert.deepEqual(unrendered, [])
    }
  })

  it('has pickers only on the VM and SR fields', () => {
    const pickers = new Map<string, string>()
    walk(configurationSchema as unknown as Schema, '', new Set(), pickers)
    assert.deepEqual(Object.fromEntries(pickers), { '.bindings[].vm': 'VM', '.bindings[].srs[].sr': 'SR' })
  })

  it('titles and describes every field', () => {
    const missing: string[] = []
    const visit = (schema: Schema, path: string) => {
      if (typeof schema.title !== 'string' || !schema.title) missing.push(`${path} title`)
      if (schema.properties) {
        for (const [name, child] of Object.entries(schema.properties as Record<string, Schema>)) {
          if (typeof child.description !== 'string' && name !== 'sr') missing.push(`${path}.${name} description`)
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
  })

  it('offers presets that validate and parse once the admin picks the VM', () => {
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
