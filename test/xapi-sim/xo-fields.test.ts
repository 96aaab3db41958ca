// Every record the simulator serves has each field Xen Orchestra reads from it: xo-server
// when it builds its objects (packages/xo-server/src/xapi-object-to-xo.mjs) and the
// `xen-api` client. The list is a checked-in copy (xo-server-fields.json, derived by
// scripts/xo-server-fields.ts from the xen-orchestra commit it names); a record missing a
// field makes xo-server drop the object (a pool without `ha_statefiles`: XO shows no pool).

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fields from './xo-server-fields.json' with { type: 'json' }
import { templateRecord } from './generic-methods.ts'
import { CLASSES, type XapiValue } from './store.ts'

const read = fields.classes as Record<string, string[]>
const references = fields.references as Record<string, string[]>
const client = fields.xenApiClient as Record<string, string[]>

function isRef(value: XapiValue): boolean {
  return typeof value === 'string' && value.startsWith('OpaqueRef:')
}

describe('simulated records as Xen Orchestra reads them', () => {
  it('come from a named xo-server source', () => {
    assert.equal(fields.source.path, 'packages/xo-server/src/xapi-object-to-xo.mjs')
    assert.match(fields.source.commit, /^[0-9a-f]{40}$/)
    assert.ok(read.pool?.includes('ha_statefiles'), 'the list holds what xo-server reads of a pool')
  })

  for (const cls of CLASSES) {
    it(`${cls} has every field xo-server and xen-api read, references as references`, () => {
      const record = templateRecord(cls)
      const wanted = [...new Set([...(read[cls] ?? []), ...(client[cls] ?? [])])]
      assert.deepEqual(
        wanted.filter(f => !(f in record)),
        [],
        `${cls} lacks fields`,
      )
      assert.deepEqual(
        Object.keys(record).filter(f => record[f] === undefined || record[f] === null),
        [],
        `${cls}: xapi has no null`,
      )
      const badRefs = (references[cls] ?? []).filter(f => {
        const value = record[f]!
        return Array.isArray(value) ? !value.every(isRef) : !isRef(value)
      })
      assert.deepEqual(badRefs, [], `${cls}: reference fields hold OpaqueRef:… values`)
    })
  }
})
