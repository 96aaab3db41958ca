// Measurement 4: how the XO side scales. Each pool size runs in a fresh process
// (bench/xo-scale-worker.ts, with --expose-gc) so heap figures belong to it alone.

import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'xo-scale-worker.ts')

export interface ScaleRun {
  vms: number
  vifs: number
  hosts: number
  bindings: number
  records: number
  updates: number
  batchSize: number
  batched: { cpuMs: number; wallMs: number; recomputes: number; peakHeap: number }
  listenerOnly: { cpuMs: number; wallMs: number; recomputes: number; peakHeap: number }
  perUpdateUs: number
  listenerPerUpdateUs: number
  perRecomputeMs: number
  updatesPerCpuSecond: number
  poolIndexMs: number
  desiredForPoolMs: number
  heap: { emptyMB: number; poolMB: number; pluginMB: number; growthMB: number; peakAboveStartMB: number }
}

export interface ScaleResult {
  small: ScaleRun
  large: ScaleRun
  ratios: { perUpdate: number; perRecompute: number; listenerPerUpdate: number; poolIndex: number; records: number }
}

async function runWorker(vms: number, updates: number, batch: number): Promise<ScaleRun> {
  const result = await execa(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', WORKER, String(vms), String(updates), String(batch)],
    {
      reject: false,
      stdin: 'ignore',
    },
  )
  if (result.exitCode !== 0) throw new Error(`xo-scale worker (${vms} VMs) failed: ${result.stderr || result.stdout}`)
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as ScaleRun
}

export async function xoScale(sizes: [number, number], updates: number, batch: number): Promise<ScaleResult> {
  const small = await runWorker(sizes[0], updates, batch)
  const large = await runWorker(sizes[1], updates, batch)
  return {
    small,
    large,
    ratios: {
      perUpdate: large.perUpdateUs / small.perUpdateUs,
      perRecompute: large.perRecomputeMs / small.perRecomputeMs,
      listenerPerUpdate: large.listenerPerUpdateUs / small.listenerPerUpdateUs,
      poolIndex: large.poolIndexMs / small.poolIndexMs,
      records: large.records / small.records,
    },
  }
}
