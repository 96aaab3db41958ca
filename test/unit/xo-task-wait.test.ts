// Waiting for an xapi task through the object cache, and reading its result in xapi's
// XML encoding.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CallTimeoutError, QueueClosedError } from '../../xo-plugin/call-queue.ts'
import { type XapiError } from '../../shared/errors.ts'
import { TaskGoneError, type TaskRecord, taskResult, waitForTask } from '../../xo-plugin/task-wait.ts'
import { FakeXapi } from './xo-fakes.ts'

function pendingTask(xapi: FakeXapi) {
  return xapi.add('task', { name_label: 'Async.host.call_plugin', status: 'pending', result: '', error_info: [] })
}

const listeners = (xapi: FakeXapi) => ['add', 'update', 'remove'].reduce((n, e) => n + xapi.objects.listenerCount(e), 0)

describe('waitForTask', () => {
  it('resolves when the record turns final, and stops listening', async () => {
    const xapi = new FakeXapi()
    const task = pendingTask(xapi)
    const waiting = waitForTask(xapi, task.$ref, 1000)
    xapi.update(task, { progress: 0.5 })
    xapi.update(task, { status: 'success', result: '<value>{&quot;a&quot;:&quot;&lt;b&gt; &amp;&quot;}</value>' })
    const done = await waiting
    assert.equal(done.status, 'success')
    assert.equal(taskResult(done), '{"a":"<b> &"}')
    assert.equal(listeners(xapi), 0)
  })

  it('finds a task that finished before it started waiting', async () => {
    const xapi = new FakeXapi()
    const task = xapi.update(pendingTask(xapi), {
      status: 'failure',
      error_info: ['SR_BACKEND_FAILURE_73', '', 'NFS mount error'],
    })
    const done = await waitForTask(xapi, task.$ref, 1000)
    assert.throws(
      () => taskResult(done),
      (error: XapiError) => error.code === 'SR_BACKEND_FAILURE_73' && error.params[1] === 'NFS mount error',
    )
  })

  it('fails when the task is destroyed, on time-out, and on abort', async () => {
    const xapi = new FakeXapi()
    const gone = pendingTask(xapi)
    const waitingGone = waitForTask(xapi, gone.$ref, 1000)
    xapi.remove(gone)
    await assert.rejects(waitingGone, TaskGoneError)
    await assert.rejects(waitForTask(xapi, pendingTask(xapi).$ref, 20), CallTimeoutError)
    const abort = new AbortController()
    const waitingAborted = waitForTask(xapi, pendingTask(xapi).$ref, 1000, abort.signal)
    abort.abort()
    await assert.rejects(waitingAborted, QueueClosedError)
    assert.equal(listeners(xapi), 0)
  })
})

describe('taskResult', () => {
  const finished = (fields: Partial<TaskRecord>) =>
    ({
      $id: 'x',
      $ref: 'r',
      $type: 'task',
      uuid: 'x',
      status: 'success',
      result: '',
      error_info: [],
      ...fields,
    }) as TaskRecord

  it("reads xapi's bare strings, typed strings and void", () => {
    assert.equal(taskResult(finished({ result: '<value>{"ok":true}</value>' })), '{"ok":true}')
    assert.equal(taskResult(finished({ result: '<value><string>text</string></value>' })), 'text')
    assert.equal(taskResult(finished({ result: '<value/>' })), '')
    assert.equal(taskResult(finished({ result: '' })), '')
  })

  it('names a cancelled task', () => {
    assert.throws(
      () => taskResult(finished({ status: 'cancelled' })),
      (error: XapiError) => error.code === 'TASK_CANCELLED',
    )
  })
})
