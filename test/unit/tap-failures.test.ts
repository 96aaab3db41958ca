// The failed-test list npm test ends with, read from node:test's TAP.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeFailures, tapFailures } from '../../scripts/tap-failures.ts'

const TAP = `TAP version 13
# Subtest: group
    # Subtest: inner fails
    not ok 1 - inner fails
      ---
      duration_ms: 7.68
      location: '/repo/test/unit/a.test.ts:2:916'
      failureType: 'testCodeFailure'
      error: |-
        Expected values to be strictly equal:
        
        1 !== 2
        
      code: 'ERR_ASSERTION'
      stack: |-
        TestContext.<anonymous> (/repo/test/unit/a.test.ts:4:38)
        Test.runInAsyncScope (node:async_hooks:206:9)
      ...
    # Subtest: inner ok
    ok 2 - inner ok
      ---
      duration_ms: 0.18
      ...
    1..2
not ok 1 - group
  ---
  duration_ms: 18.42
  type: 'suite'
  location: '/repo/test/unit/a.test.ts:2:877'
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  ...
# Subtest: top fails
not ok 2 - top fails
  ---
  duration_ms: 0.29
  location: '/repo/test/unit/a.test.ts:2:1043'
  failureType: 'testCodeFailure'
  error: 'boom'
  stack: |-
    TestContext.<anonymous> (/repo/test/unit/a.test.ts:7:39)
  ...
1..2
# tests 3
# pass 1
# fail 2
`

test('lists each failed test once, with its file, full name, error and test-file line', () => {
  assert.deepEqual(tapFailures(TAP), [
    {
      file: '/repo/test/unit/a.test.ts',
      name: 'group › inner fails',
      error: 'Expected values to be strictly equal: 1 !== 2',
      at: '/repo/test/unit/a.test.ts:4',
    },
    { file: '/repo/test/unit/a.test.ts', name: 'top fails', error: 'boom', at: '/repo/test/unit/a.test.ts:7' },
  ])
  assert.equal(
    describeFailures(tapFailures(TAP), '/repo').split('\n')[0],
    '✖ test/unit/a.test.ts › group › inner fails',
  )
})

test('a passing run lists nothing', () => {
  assert.deepEqual(tapFailures('TAP version 13\n# Subtest: a\nok 1 - a\n  ---\n  duration_ms: 1\n  ...\n1..1\n'), [])
})
