// Runs last: whatever the earlier test files did, and however they ended, they must have
// left no namespace and no temporary directory behind.

import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { test } from 'node:test'
import { NETNS_PREFIX, TEMP_DIR_PATTERN, listNamespaces } from './helpers/netns.ts'

test('no namespace of ours is left', async () => {
  const pattern = new RegExp(`^${NETNS_PREFIX}\\d+-`)
  const ours = (await listNamespaces()).filter(name => pattern.test(name) && !name.startsWith(`${NETNS_PREFIX}${process.pid}-`))
  assert.deepEqual(ours, [])
})

test('no temporary directory of ours is left', () => {
  const ours = readdirSync(tmpdir()).filter(name => TEMP_DIR_PATTERN.test(name))
  assert.deepEqual(ours, [])
})
