import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CallQueue, type CallQueueOptions, CallTimeoutError, QueueClosedError } from '../../xo-plugin/call-queue.ts'

const delay = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

function queue(options: Partial<CallQueueOptions> = {}) {
  return new CallQueue({
    concurrency: 4,
    timeoutMs: 1000,
    retries: 0,
    backoffMs: 5,
    maxBackoffMs: 20,
    isTransient: () => true,
    ...options,
  })
}

describe('CallQueue', () => {
  it('runs one call at a time per host, in order', async () => {
    const q = queue()
    const log: string[] = []
    const job = (name: string, ms: number) => async () => {
      log.push(`start ${name}`)
      await delay(ms)
      log.push(`end ${name}`)
      return name
    }
    const results = await Promise.all([
      q.run('h1', 'a', job('a', 30)),
      q.run('h1', 'b', job('b', 1)),
      q.run('h2', 'c', job('c', 1)),
    ])
    assert.deepEqual(results, ['a', 'b', 'c'])
    // c (another host) did not wait for a; b did.
    assert.ok(log.indexOf('end c') < log.indexOf('end a'))
    assert.ok(log.indexOf('start b') > log.indexOf('end a'))
  })

  it('bounds the calls in flight across hosts', async () => {
    const q = queue({ concurrency: 2 })
    let running = 0
    let peak = 0
    const job = async () => {
      peak = Math.max(peak, ++running)
      await delay(10)
      running--
    }
    await Promise.all(['h1', 'h2', 'h3', 'h4', 'h5'].map(h => q.run(h, h, job)))
    assert.equal(peak, 2)
  })

  it('gives up on a call that does not answer in time', async () => {
    const q = queue({ timeoutMs: 20 })
    await assert.rejects(
      q.run('h1', 'slow', () => delay(500)),
      (error: unknown) => error instanceof CallTimeoutError && /slow: no answer within 20 ms/.test(error.message),
    )
  })

  it('lets one call wait longer than the default', async () => {
    const q = queue({ timeoutMs: 10 })
    assert.equal(await q.run('h1', 'long', () => delay(40).then(() => 'ok'), 200), 'ok')
  })

  it('retries transient errors with growing delays, and not the others', async () => {
    const retries: number[] = []
    const q = queue({
      retries: 3,
      backoffMs: 5,
      isTransient: e => (e as Error).message === 'busy',
      onRetry: (_l, _a, ms) => retries.push(ms),
    })
    let attempts = 0
    const result = await q.run('h1', 'x', async () => {
      if (++attempts < 3) throw new Error('busy')
      return 'done'
    })
    assert.equal(result, 'done')
    assert.equal(attempts, 3)
    assert.deepEqual(retries, [5, 10])

    let finalAttempts = 0
    await assert.rejects(
      q.run('h1', 'y', async () => {
        finalAttempts++
        throw new Error('invalid')
      }),
      /invalid/,
    )
    assert.equal(finalAttempts, 1)
  })

  it('stops retrying when closed, and refuses new calls', async () => {
    const q = queue({ retries: 5, backoffMs: 10_000, maxBackoffMs: 10_000 })
    const pending = q.run('h1', 'x', async () => {
      throw new Error('busy')
    })
    await delay(10)
    const timers = () => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
    const beforeClose = timers()
    q.close()
    await assert.rejects(pending, QueueClosedError)
    assert.equal(timers(), beforeClose - 1, 'the backoff timer was cleared')
    await assert.rejects(
      q.run('h1', 'z', async () => 1),
      QueueClosedError,
    )
  })

  it('reports idleness', async () => {
    const q = queue()
    let done = false
    void q.run('h1', 'x', async () => {
      await delay(20)
      done = true
    })
    await q.idle()
    assert.equal(done, true)
  })
})
