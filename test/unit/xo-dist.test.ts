// The built plugin directory is what xo-server loads: check it the way xo-server does
// (package.json `main`, dynamic import, the default export's properties). Needs `npm run
// build` first, which `npm test` does.

import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, it } from 'node:test'
import { EventEmitter } from 'node:events'

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../dist/xo-plugin')

describe('dist/xo-plugin', () => {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))

  it('is a package named xo-server-vif-ip-binder, ESM, with a main', () => {
    assert.equal(manifest.name, 'xo-server-vif-ip-binder')
    assert.equal(manifest.type, 'module')
    assert.equal(typeof manifest.main, 'string')
    assert.match(manifest.version, /^\d+\.\d+\.\d+/)
    assert.ok(manifest.description.length > 20)
    assert.ok(manifest.keywords.includes('xo-server'))
    assert.equal(manifest.dependencies, undefined, 'self-contained: nothing to install next to it')
    assert.ok(!readdirSync(dir).includes('node_modules'))
  })

  it('default-exports a factory carrying the schemas, which builds a plugin instance', async () => {
    const module = await import(pathToFileURL(join(dir, manifest.main)).href)
    const factory = module.default
    assert.equal(typeof factory, 'function')
    assert.equal(factory.configurationSchema.type, 'object')
    assert.deepEqual(factory.configurationSchema.required, ['bindings'])
    assert.equal(factory.configurationSchema.properties.bindings.items.properties.vm.$type, 'VM')
    assert.ok(Object.keys(factory.configurationPresets).length >= 1)
    assert.equal(factory.testSchema, undefined)
    const xo = Object.assign(new EventEmitter(), { getAllXapis: () => ({}) })
    const instance = factory({ xo, staticConfig: {}, getDataDir: async () => '/tmp' })
    for (const method of ['configure', 'load', 'unload', 'test'])
      assert.equal(typeof instance[method], 'function', method)
    await instance.configure({ bindings: [] }, { loaded: false })
    await instance.load()
    assert.equal(xo.listenerCount('server:connected'), 1)
    await instance.unload()
    assert.equal(xo.listenerCount('server:connected'), 0)
  })
})
