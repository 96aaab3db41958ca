// Nothing outlives a simulator: stop() removes its namespaces and temp dir, and a start
// sweeps what a crashed run (a dead pid) left behind.

import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import { createNamespace, deleteNamespace, listNamespaces } from '../helpers/netns.ts'
import { listSimLeftovers } from './leftovers.ts'
import { startSimulator } from './simulator.ts'

describe('simulator leftovers', () => {
  it('stop() removes every namespace and the temp dir it created', async () => {
    const sim = await startSimulator({ scenario: 'firewall-pool', hostPlugin: false })
    let stopped = false
    try {
      const during = await listSimLeftovers()
      const mine = during.namespaces.filter(n => n.startsWith(`vib${process.pid}-`))
      for (const ns of [...sim.hosts.map(h => h.netns), ...sim.vms.map(v => v.netns), sim.external('nfs').netns]) {
        assert.ok(mine.includes(ns), ns)
      }
      assert.ok(during.tempDirs.some(d => sim.host('host1').root.startsWith(d)))
      await sim.startVm('firewall')
      await sim.stop()
      stopped = true
      const afterStop = await listSimLeftovers()
      assert.deepEqual(
        afterStop.namespaces.filter(n => mine.includes(n)),
        [],
      )
      assert.equal(existsSync(sim.host('host1').root), false)
    } finally {
      if (!stopped) await sim.stop()
    }
  })

  it('a start sweeps the namespaces and temp dirs of dead runs', async () => {
    const dead = await execa(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
    const pid = Number(dead.stdout)
    const ns = `vib${pid}-sim9-crashed`
    const dir = join(tmpdir(), `vib-sim-${pid}-crashed`)
    await createNamespace(ns)
    await mkdir(dir)
    try {
      assert.deepEqual((await listSimLeftovers({ onlyDead: true })).namespaces.includes(ns), true)
      const sim = await startSimulator({
        scenario: { name: 'tiny', hosts: [{ name: 'h', address: '192.0.2.9' }], networks: [] },
        hostPlugin: false,
      })
      await sim.stop()
      assert.equal((await listNamespaces()).includes(ns), false)
      assert.equal(existsSync(dir), false)
    } finally {
      await deleteNamespace(ns)
      await rm(dir, { recursive: true, force: true })
    }
  })
})
