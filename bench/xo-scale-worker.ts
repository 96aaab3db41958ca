// Measurement 4, one pool size, in a process of its own (run with --expose-gc, so heap
// figures are after a full collection): the real XO plugin (VifIpBinderPlugin, with its
// PoolWatch, desired-state computation and Converger) on a synthetic pool held by the unit
// tests' in-memory xo-server stand-in, fed object updates the way the `xen-api` client
// delivers them: batches of records, one `update` event per batch.
//
// Usage: node --expose-gc --import tsx bench/xo-scale-worker.ts VMS UPDATES BATCH
// Prints one JSON line.

import { parsePluginConfig, type BindingConfig } from '../shared/binding.ts'
import { desiredForPool } from '../xo-plugin/desired.ts'
import type { Logger } from '../xo-plugin/log.ts'
import { VifIpBinderPlugin } from '../xo-plugin/plugin.ts'
import { resolveBindings } from '../xo-plugin/resolve.ts'
import { PoolIndex, type RecordBatch, type XapiRecord } from '../xo-plugin/xapi-types.ts'
import { FakeXapi, FakeXo } from '../test/unit/xo-fakes.ts'
import { median, seededRandom } from './stats.ts'

const [vmCount, updateCount, batchSize] = process.argv.slice(2).map(Number) as [number, number, number]
if (!(vmCount > 0 && updateCount > 0 && batchSize > 0)) throw new Error('usage: xo-scale-worker.ts VMS UPDATES BATCH')

const VIFS_PER_VM = 4
const BOUND_SHARE = 0.01
const VMS_PER_HOST = 50

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} }

/**
 * The pool getter is read once per desired-state computation: counts them. The stand-in's
 * own getter looks the pool record up by scanning every record (fine for unit tests, but
 * it would be counted against the plugin here); xen-api keeps the pool record at hand, so
 * this one does too.
 */
class CountingXapi extends FakeXapi {
  poolReads = 0
  private poolId: string | undefined
  override get pool() {
    this.poolReads++
    if (this.connecting) return undefined
    this.poolId ??= Object.values(this.objects.all).find(r => r.$ref === this.poolRef)?.$id
    return (this.poolId === undefined ? undefined : this.objects.all[this.poolId]) as FakeXapi['pool']
  }
}

function gcHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    gc()
    gc()
  }
  return process.memoryUsage().heapUsed
}

const heapEmpty = gcHeap()
const xapi = new CountingXapi('scale')
const shared = Array.from({ length: VIFS_PER_VM }, (_, i) =>
  xapi.add('network', { name_label: `net${i}`, bridge: `xenbr${i + 1}`, PIFs: [] }),
)
const management = xapi.add('network', { name_label: 'management', bridge: 'xenbr0', PIFs: [] })
const hosts = Array.from({ length: Math.max(2, Math.ceil(vmCount / VMS_PER_HOST)) }, (_, i) => {
  const host = xapi.add('host', { name_label: `host${i}`, address: '', enabled: true, PIFs: [] })
  const pif = xapi.add('PIF', { host: host.$ref, network: management.$ref, management: true, device: 'eth0' })
  return xapi.update(host, { PIFs: [pif.$ref] })
})

// 1% of the VMs are firewalls, each bound on a private network of its own (VIF 0), so that
// no two bindings want the same bridge on one host; every VM runs with its VIFs attached.
const boundEvery = Math.round(1 / BOUND_SHARE)
const bindings: BindingConfig[] = []
const updatable: XapiRecord[] = []
for (let i = 0; i < vmCount; i++) {
  const host = hosts[i % hosts.length]!
  const bound = i % boundEvery === 0
  const vm = xapi.add('VM', {
    name_label: `vm${i}`,
    name_description: '',
    power_state: 'Running',
    resident_on: host.$ref,
    VIFs: [],
    is_control_domain: false,
    is_a_template: false,
    is_a_snapshot: false,
  })
  const networks = [...shared]
  if (bound) {
    const n = bindings.length
    networks[0] = xapi.add('network', { name_label: `private${n}`, bridge: `xapi${n}`, PIFs: [] })
    bindings.push({
      vm: vm.uuid,
      network: networks[0].uuid,
      addresses: [`10.${n >> 8}.${n & 255}.2/24`],
      gateways: [`10.${n >> 8}.${n & 255}.1`],
    })
  }
  const vifs = networks.map((network, device) =>
    xapi.add('VIF', {
      VM: vm.$ref,
      network: network.$ref,
      device: String(device),
      currently_attached: true,
      other_config: {},
    }),
  )
  updatable.push(xapi.update(vm, { VIFs: vifs.map(v => v.$ref) }), ...vifs)
}
const records = Object.keys(xapi.objects.all).length
const heapPool = gcHeap()

const xo = new FakeXo()
xo.xapis.scale = xapi
const plugin = new VifIpBinderPlugin(xo, { log: silent, debounceMs: 0 })
await plugin.configure({ bindings, gatewayCheckSeconds: 0 }, { loaded: false })
await plugin.load()
await plugin.whenIdle()
const applied = xapi.appliedBridges()
if (applied !== bindings.length) throw new Error(`expected ${bindings.length} applies at load, saw ${applied}`)
const heapLoaded = gcHeap()

// Updates that leave every binding's desired state as it is (the common case: most of a
// pool's churn is about other things), alternating VMs and VIFs, at random.
const random = seededRandom(vmCount)
let tick = 0
function nextBatch(size: number): RecordBatch {
  const batch: RecordBatch = {}
  for (let i = 0; i < size; i++) {
    const index = Math.floor(random() * updatable.length)
    const current = xapi.objects.all[updatable[index]!.$id]!
    const change =
      current.$type === 'VM' ? { name_description: `tick ${++tick}` } : { other_config: { tick: String(++tick) } }
    const next = Object.freeze({ ...current, ...change }) as XapiRecord
    xapi.objects.all[next.$id] = next
    batch[next.$id] = next
  }
  return batch
}
const emit = (batch: RecordBatch) => xapi.objects.emit('update', batch)
// The debounce timer (0 ms) was armed by the batch, before this one: it fires first.
const afterRecompute = () => new Promise(resolve => setTimeout(resolve, 0))

interface Feed {
  cpuMs: number
  wallMs: number
  recomputes: number
  peakHeap: number
}

async function feed(total: number, size: number, recomputeEachBatch: boolean): Promise<Feed> {
  const reads = xapi.poolReads
  let peakHeap = 0
  const cpu = process.cpuUsage()
  const wall = performance.now()
  for (let sent = 0, batches = 0; sent < total; sent += size, batches++) {
    emit(nextBatch(Math.min(size, total - sent)))
    if (recomputeEachBatch) await afterRecompute()
    if (batches % 50 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
  }
  await afterRecompute()
  const used = process.cpuUsage(cpu)
  const result = {
    cpuMs: (used.user + used.system) / 1000,
    wallMs: performance.now() - wall,
    recomputes: xapi.poolReads - reads,
    peakHeap,
  }
  await plugin.whenIdle()
  return result
}

// Warm-up (JIT), then the measured feeds: each batch followed by its recomputation (what a
// pool whose event batches arrive more than the debounce apart costs), and the same
// updates with one recomputation at the end (the event listener alone).
await feed(Math.min(updateCount, 20 * batchSize), batchSize, true)
const heapBefore = gcHeap()
const batched = await feed(updateCount, batchSize, true)
const heapAfter = gcHeap()
const listenerOnly = await feed(updateCount, batchSize, false)
if (xapi.appliedBridges() !== applied) throw new Error('an update changed a desired state')

// Where a recomputation's time goes: the index over every cached record, and the desired
// state computed from it.
const resolved = resolveBindings(parsePluginConfig({ bindings }).bindings, [xapi]).resolved
const indexMs: number[] = []
const desiredMs: number[] = []
for (let i = 0; i < 30; i++) {
  let t = performance.now()
  const index = new PoolIndex(xapi)
  indexMs.push(performance.now() - t)
  t = performance.now()
  desiredForPool(index, resolved, 0)
  desiredMs.push(performance.now() - t)
}
await plugin.unload()

// Both feeds send the same number of updates; they differ only in how many recomputations
// follow: the difference is the recomputations' cost.
const perRecomputeMs = (batched.cpuMs - listenerOnly.cpuMs) / Math.max(1, batched.recomputes - listenerOnly.recomputes)

console.log(
  JSON.stringify({
    vms: vmCount,
    vifs: vmCount * VIFS_PER_VM,
    hosts: hosts.length,
    bindings: bindings.length,
    records,
    updates: updateCount,
    batchSize,
    batched,
    listenerOnly,
    perUpdateUs: (batched.cpuMs * 1000) / updateCount,
    listenerPerUpdateUs: ((listenerOnly.cpuMs - perRecomputeMs * listenerOnly.recomputes) * 1000) / updateCount,
    perRecomputeMs,
    updatesPerCpuSecond: updateCount / (batched.cpuMs / 1000),
    poolIndexMs: median(indexMs),
    desiredForPoolMs: median(desiredMs),
    heap: {
      emptyMB: heapEmpty / 2 ** 20,
      poolMB: (heapPool - heapEmpty) / 2 ** 20,
      pluginMB: (heapLoaded - heapPool) / 2 ** 20,
      growthMB: (heapAfter - heapBefore) / 2 ** 20,
      peakAboveStartMB: (batched.peakHeap - heapBefore) / 2 ** 20,
    },
  }),
)
process.exit(0)
