// What the plugin's own VM/VIF event watch tells, kept ahead of xo-server's paced object
// cache until the cache has caught up (xo-plugin/fresh-records.ts), and PoolIndex seeing
// those records in place of the cached ones.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FreshRecords } from '../../xo-plugin/fresh-records.ts'
import { PoolIndex, type VifRecord, type XapiRecord } from '../../xo-plugin/xapi-types.ts'
import { FakeXapi } from './xo-fakes.ts'

function pool() {
  const xapi = new FakeXapi('pool')
  const network = xapi.add('network', { name_label: 'private', bridge: 'xapi1', PIFs: [] })
  const vif = xapi.add('VIF', { VM: 'OpaqueRef:vm', network: network.$ref, device: '0', currently_attached: false })
  return { xapi, vif, fresh: new FreshRecords(xapi) }
}

/** A record as the xen-api client caches it: its `$` fields are not enumerable. */
function asXenApiCaches(record: XapiRecord): XapiRecord {
  const { $id, $ref, $type, ...fields } = record
  return Object.defineProperties(
    { ...fields },
    {
      $id: { value: $id, enumerable: false },
      $ref: { value: $ref, enumerable: false },
      $type: { value: $type, enumerable: false },
    },
  ) as XapiRecord
}

test('a plug the cache has not seen yet is what PoolIndex sees, with the cached record’s identity', () => {
  const { xapi, vif, fresh } = pool()
  const snapshot = { ...vif, currently_attached: true }
  assert.equal(fresh.note(asXenApiCaches(vif), snapshot), true)
  const seen = new PoolIndex(xapi, fresh.view).ref<VifRecord>(vif.$ref, 'VIF')
  assert.deepEqual([seen?.$id, seen?.$type, seen?.currently_attached], [vif.$id, 'VIF', true])
  assert.equal(new PoolIndex(xapi).ref<VifRecord>(vif.$ref, 'VIF')?.currently_attached, false, 'the cache as it is')
  assert.equal(new PoolIndex(xapi, fresh.view).all<VifRecord>('VIF')[0]?.currently_attached, true)
  assert.equal(new PoolIndex(xapi, fresh.view).uuid<VifRecord>(vif.uuid, 'VIF')?.currently_attached, true)
})

test('a change of nothing the desired state reads is not kept, and says so', () => {
  const { vif, fresh } = pool()
  assert.equal(fresh.note(vif, { ...vif, other_config: { tick: '1' } }), false)
  assert.equal(fresh.view.size, 0)
})

test('kept until the cache shows the same, through an older update of the cache too; dropped when the stream breaks', () => {
  const { xapi, vif, fresh } = pool()
  fresh.note(vif, { ...vif, currently_attached: true })
  xapi.update(vif, { other_config: { older: 'an update from before the plug' } })
  assert.equal(fresh.view.size, 1, 'the cache is still behind')
  xapi.update(vif, { currently_attached: true })
  assert.equal(fresh.view.size, 0, 'caught up')
  fresh.note(vif, { ...vif, currently_attached: true })
  fresh.clear()
  assert.equal(fresh.view.size, 0)
  fresh.stop()
})
