// event.from / event.inject semantics, on the store directly (no kernel needed) and over
// RPC for blocking, timeouts and token errors.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { EventService, formatToken } from './events.ts'
import { hostRecord, vmRecord } from './records.ts'
import { ObjectStore } from './store.ts'
import { type Simulator, startSimulator } from './simulator.ts'
import { login, rpc } from './test-helpers.ts'

describe('event.from semantics', () => {
  it('the empty token returns every object as add, with snapshots and counts', async () => {
    const store = new ObjectStore()
    const events = new EventService(store)
    const host = store.create('host', hostRecord({ name_label: 'h' }))
    store.create('VM', vmRecord({ name_label: 'a' }))
    store.update('host', host, { enabled: false })
    const r = await events.from(['*'], '', 0)
    assert.equal(r.events.length, 2)
    assert.ok(r.events.every(e => e.operation === 'add' && e.snapshot))
    assert.equal(r.events.find(e => e.class === 'host')!.snapshot!.enabled, false)
    assert.equal(r.valid_ref_counts.vm, 1)
    assert.equal(r.token, formatToken(store.generation))
  })

  it('filters by lowercase class names and by class/ref', async () => {
    const store = new ObjectStore()
    const events = new EventService(store)
    const vm1 = store.create('VM', vmRecord())
    store.create('VM', vmRecord())
    store.create('host', hostRecord())
    assert.deepEqual(
      (await events.from(['host'], '', 0)).events.map(e => e.class),
      ['host'],
    )
    assert.deepEqual((await events.from(['VM'], '', 0)).events.length, 2, 'case-insensitive')
    assert.deepEqual(
      (await events.from([`vm/${vm1}`], '', 0)).events.map(e => e.ref),
      [vm1],
    )
    assert.deepEqual(Object.keys((await events.from(['vm', 'host'], '', 0)).valid_ref_counts).sort(), ['host', 'vm'])
  })

  it('coalesces repeated changes, orders del, mod, add, and omits the snapshot on del', async () => {
    const store = new ObjectStore()
    const events = new EventService(store)
    const kept = store.create('VM', vmRecord({ name_label: 'kept' }))
    const doomed = store.create('VM', vmRecord({ name_label: 'doomed' }))
    const { token } = await events.from(['vm'], '', 0)
    const added = store.create('VM', vmRecord({ name_label: 'new' }))
    store.update('VM', kept, { name_label: 'kept-1' })
    store.update('VM', kept, { name_label: 'kept-2' })
    store.destroy('VM', doomed)
    const ephemeral = store.create('VM', vmRecord())
    store.destroy('VM', ephemeral)
    const r = await events.from(['vm'], token, 0)
    assert.deepEqual(
      r.events.map(e => [e.operation, e.ref]),
      [
        ['del', doomed],
        ['mod', kept],
        ['add', added],
      ],
    )
    assert.equal('snapshot' in r.events[0]!, false)
    assert.equal(r.events[1]!.snapshot!.name_label, 'kept-2')
    assert.ok(r.token > token)
    assert.deepEqual((await events.from(['vm'], r.token, 0)).events, [])
  })

  it('event.inject produces a mod and returns a token after it', async () => {
    const store = new ObjectStore()
    const events = new EventService(store)
    const vm = store.create('VM', vmRecord())
    const before = formatToken(store.generation)
    const token = events.inject('VM', vm)
    assert.deepEqual(
      (await events.from(['vm'], before, 0)).events.map(e => e.operation),
      ['mod'],
    )
    assert.deepEqual((await events.from(['vm'], token, 0)).events, [])
  })

  it('EVENTS_LOST when forced and for tokens older than the kept deletions', async () => {
    const store = new ObjectStore()
    const events = new EventService(store)
    events.forceEventsLost()
    await assert.rejects(events.from(['*'], '', 0), { code: 'EVENTS_LOST' })
    assert.equal((await events.from(['*'], '', 0)).events.length, 0)
    store.maxTombstones = 1
    const old = formatToken(store.generation)
    store.destroy('VM', store.create('VM', vmRecord()))
    store.destroy('VM', store.create('VM', vmRecord()))
    await assert.rejects(events.from(['*'], old, 0), { code: 'EVENTS_LOST' })
  })

  it('EVENT_FROM_TOKEN_PARSE_FAILURE for a malformed token', async () => {
    const events = new EventService(new ObjectStore())
    await assert.rejects(events.from(['*'], 'garbage', 0), {
      code: 'EVENT_FROM_TOKEN_PARSE_FAILURE',
      params: ['garbage'],
    })
  })
})

describe('event.from over RPC', () => {
  let sim: Simulator
  let session: string
  before(async () => {
    sim = await startSimulator({
      scenario: { name: 'ev', hosts: [{ name: 'h', address: '192.0.2.1' }], networks: [] },
      hostPlugin: false,
    })
    session = await login(sim)
  })
  after(async () => sim?.stop())

  it('blocks until a matching change, then answers at once', async () => {
    const { token } = await rpc(sim, 'event.from', session, ['host'], '', 0)
    const started = Date.now()
    const pending = rpc(sim, 'event.from', session, ['host'], token, 10.0)
    await new Promise(r => setTimeout(r, 300))
    // a change of another class does not wake it up
    await rpc(sim, 'pool.add_to_other_config', session, sim.poolRef, 'x', 'y')
    await new Promise(r => setTimeout(r, 200))
    await rpc(sim, 'host.set_name_label', session, sim.host('h').ref, 'renamed')
    const r = await pending
    const waited = Date.now() - started
    // It blocked through the unrelated change (a lower bound, set by the sleeps above);
    // had it not answered at the matching change, it would have ended at its 10 s timeout
    // with no events, which the next assertion refuses.
    assert.ok(waited >= 450, `waited ${waited} ms`)
    assert.deepEqual(
      r.events.map((e: any) => [e.class, e.operation, e.snapshot.name_label]),
      [['host', 'mod', 'renamed']],
    )
  })

  it('returns no events with a newer token when the timeout expires', async () => {
    const { token } = await rpc(sim, 'event.from', session, ['vm'], '', 0)
    const started = Date.now()
    const r = await rpc(sim, 'event.from', session, ['vm'], token, 0.3)
    assert.ok(Date.now() - started >= 290)
    assert.deepEqual(r.events, [])
    assert.ok(r.token >= token)
  })
})
