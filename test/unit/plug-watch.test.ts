// The XO plugin's own VM/VIF event poll (xo-plugin/plug-watch.ts) against a connection that
// answers as xapi does, or fails: what it asks, what it hands over, and how it counts failures.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PlugWatch, type XapiEvent } from '../../xo-plugin/plug-watch.ts'
import type { XapiConnection } from '../../xo-plugin/xapi-types.ts'

const EVENT: XapiEvent = {
  class: 'vif',
  operation: 'mod',
  ref: 'OpaqueRef:vif',
  snapshot: { currently_attached: true },
}

function connection(answer: (args: unknown[], n: number) => Promise<unknown>) {
  const calls: unknown[][] = []
  const xapi = {
    call: (method: string, ...args: unknown[]) => (calls.push([method, ...args]), answer(args, calls.length)),
  } as unknown as XapiConnection
  return { xapi, calls }
}

test('starts from the token of now, then long-polls VM and VIF events from each answer’s token', async () => {
  const never = new Promise(() => undefined)
  const { xapi, calls } = connection(async (_args, n) =>
    n === 1 ? { token: 't1', events: [] } : n === 2 ? { token: 't2', events: [EVENT] } : never,
  )
  const handed: XapiEvent[][] = []
  const watch = new PlugWatch(
    xapi,
    events => handed.push(events),
    () => assert.fail('no failure here'),
  )
  watch.start()
  await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  watch.stop()
  assert.deepEqual(calls, [
    ['event.from', ['pool'], '', 0],
    ['event.from', ['VM', 'VIF'], 't1', 30.1],
    ['event.from', ['VM', 'VIF'], 't2', 30.1],
  ])
  assert.deepEqual(handed, [[EVENT]])
})

test('counts failures in a row, and a read-only connection is not polled', async () => {
  const { xapi } = connection(() => Promise.reject(new Error('the call timed out')))
  const failures: number[] = []
  const watch = new PlugWatch(
    xapi,
    () => undefined,
    (_error, n) => failures.push(n),
    1,
  )
  watch.start()
  while (failures.length < 3) await new Promise(resolve => setTimeout(resolve, 5))
  watch.stop()
  assert.deepEqual(failures.slice(0, 3), [1, 2, 3])

  const readOnly = connection(() => assert.fail('a read-only connection must not be called'))
  new PlugWatch(
    Object.assign(readOnly.xapi, { readOnly: true }),
    () => undefined,
    () => undefined,
  ).start()
  assert.equal(readOnly.calls.length, 0)
})
