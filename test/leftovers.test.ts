// Runs last: whatever the earlier test files did, and however they ended, they must have
// left no namespace, no temporary directory and no Open vSwitch daemon behind. Each is
// named after the process that made it (a daemon by its run directory); those processes have all exited by now, so anything of ours whose owner
// is gone is a leftover. (A live owner is another run going on beside this one.)

import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { test } from 'node:test'
import { NETNS_PREFIX, TEMP_DIR_PATTERN, isAlive, listNamespaces } from './helpers/netns.ts'
import { listOvsProcesses } from './helpers/ovs.ts'

test('no namespace of ours is left', async () => {
  const pattern = new RegExp(`^${NETNS_PREFIX}(\\d+)-`)
  const leftovers = (await listNamespaces()).filter(name => {
    const owner = pattern.exec(name)?.[1]
    return owner !== undefined && !isAlive(Number(owner))
  })
  assert.deepEqual(leftovers, [])
})

test('no temporary directory of ours is left', () => {
  const leftovers = readdirSync(tmpdir()).filter(name => {
    const owner = TEMP_DIR_PATTERN.exec(name)?.[2]
    return owner !== undefined && !isAlive(Number(owner))
  })
  assert.deepEqual(leftovers, [])
})

test('no Open vSwitch daemon of ours is left', () => {
  const leftovers = listOvsProcesses().filter(daemon => !isAlive(daemon.owner))
  assert.deepEqual(leftovers, [])
})
