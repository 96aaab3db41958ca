// The hook's local index after an explicit call: whoever calls apply, apply-many, release
// or resume (Xen Orchestra, an admin) may also have changed the pool document, so the host
// keeps no index that could still say "nothing bound here": the next hook asks xapi.

import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { type HookIndex, hookIndexPath, readHookIndex, writeHookIndex } from '../../xapi-plugin/engine/hook-index.ts'
import { callOk, callPlugin } from '../helpers/host-plugin.ts'
import { DOM0_4, FULL_APPLY, addressesOf, withTopology } from './topology.ts'

/** An index as a host has it before Xen Orchestra binds a VM: fresh, and naming nothing. */
function freshEmptyIndex(root: string): string {
  const stateDir = join(root, 'var/lib/vif-ip-binder')
  const index: HookIndex = { version: 1, refreshedAt: new Date().toISOString(), vms: {}, requests: {} }
  writeHookIndex(stateDir, index)
  assert.ok(readHookIndex(stateDir), 'the index is fresh before the call')
  return stateDir
}

describe('the hook index after an explicit call', () => {
  test('apply, apply-many, release and resume each leave no index behind', () =>
    withTopology(async ({ dom0, root }) => {
      let stateDir = freshEmptyIndex(root)
      await callOk(dom0, root, 'apply', FULL_APPLY)
      assert.deepEqual(await addressesOf(dom0, 'xapi1'), [DOM0_4, FULL_APPLY.addresses.split(',')[1]!].sort())
      assert.equal(existsSync(hookIndexPath(stateDir)), false, 'apply')

      stateDir = freshEmptyIndex(root)
      await callOk(dom0, root, 'apply-many', { requests: JSON.stringify([FULL_APPLY]) })
      assert.equal(existsSync(hookIndexPath(stateDir)), false, 'apply-many')

      stateDir = freshEmptyIndex(root)
      await callOk(dom0, root, 'release', { bridge: 'xapi1' })
      assert.deepEqual(await addressesOf(dom0, 'xapi1'), [])
      assert.equal(existsSync(hookIndexPath(stateDir)), false, 'release')

      await callOk(dom0, root, 'pause', { reason: 'testing' })
      stateDir = freshEmptyIndex(root)
      await callOk(dom0, root, 'resume')
      assert.equal(existsSync(hookIndexPath(stateDir)), false, 'resume')
    }))

  test('a refused call changes nothing, the index included', () =>
    withTopology(async ({ dom0, root }) => {
      const stateDir = freshEmptyIndex(root)
      const reply = await callPlugin(dom0, root, 'apply', { ...FULL_APPLY, addresses: '192.0.2.300/24' })
      assert.equal(reply.status, 'Failure')
      assert.equal(reply.status === 'Failure' && reply.errorDescription[0], 'VIF_IP_BINDER_INVALID_ARGUMENT')
      assert.ok(readHookIndex(stateDir), 'still there and fresh')
    }))
})
