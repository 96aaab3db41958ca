// The order rules of the hook index's writers and removers, on files in a temporary root:
// the latest read wins whatever order the writes finish in, an explicit removal beats every
// read under way, and a writer that failed removes nothing newer than its own read. The race
// itself, with the compiled executable's hook workers and xapi, is in
// test/e2e/host-index-race.test.ts.

import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { type HookIndex, hookIndexPath, readHookIndex } from '../../xapi-plugin/engine/hook-index.ts'
import {
  NO_TICKET,
  removeIndexInOrder,
  takeIndexTicket,
  writeIndexInOrder,
} from '../../xapi-plugin/engine/index-order.ts'
import { environmentFrom } from '../../xapi-plugin/runtime/environment.ts'

/** An index that names one VM, so that two of them can be told apart. */
const naming = (vm: string): HookIndex => ({
  version: 1,
  refreshedAt: new Date().toISOString(),
  vms: { [vm]: { vifs: {} } },
  requests: {},
})

async function inRoot(body: (env: ReturnType<typeof environmentFrom>) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'vib-index-order-'))
  try {
    await body(environmentFrom({ VIF_IP_BINDER_ROOT: root }))
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

const named = (stateDir: string) => Object.keys(readHookIndex(stateDir)?.vms ?? {})

describe('the hook index, written and removed in turn', () => {
  test('the later read wins, whichever write comes last', () =>
    inRoot(async env => {
      const [older, newer] = [await takeIndexTicket(env), await takeIndexTicket(env)]
      assert.equal(await writeIndexInOrder(env, newer, naming('new')), true)
      assert.equal(await writeIndexInOrder(env, older, naming('old')), false)
      assert.deepEqual(named(env.stateDir), ['new'])

      const [first, second] = [await takeIndexTicket(env), await takeIndexTicket(env)]
      assert.equal(await writeIndexInOrder(env, first, naming('first')), true)
      assert.equal(await writeIndexInOrder(env, second, naming('second')), true)
      assert.deepEqual(named(env.stateDir), ['second'])

      assert.equal(await writeIndexInOrder(env, NO_TICKET, naming('unordered')), false, 'no ticket, no write')
    }))

  test('an explicit removal beats every read under way; a read after it writes again', () =>
    inRoot(async env => {
      const underWay = await takeIndexTicket(env)
      assert.equal(await writeIndexInOrder(env, await takeIndexTicket(env), naming('before')), true)
      await removeIndexInOrder(env)
      assert.equal(existsSync(hookIndexPath(env.stateDir)), false)
      assert.equal(await writeIndexInOrder(env, underWay, naming('stale')), false)
      assert.equal(existsSync(hookIndexPath(env.stateDir)), false, 'not brought back')
      assert.equal(await writeIndexInOrder(env, await takeIndexTicket(env), naming('after')), true)
      assert.deepEqual(named(env.stateDir), ['after'])
    }))

  test('a writer that failed removes an index no newer than its read, never a newer one', () =>
    inRoot(async env => {
      const [failed, newer] = [await takeIndexTicket(env), await takeIndexTicket(env)]
      await writeIndexInOrder(env, newer, naming('new'))
      await removeIndexInOrder(env, failed)
      assert.deepEqual(named(env.stateDir), ['new'])

      const failing = await takeIndexTicket(env)
      await removeIndexInOrder(env, failing)
      assert.equal(existsSync(hookIndexPath(env.stateDir)), false)
    }))
})
