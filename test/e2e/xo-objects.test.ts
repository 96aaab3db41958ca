// What xo-server makes of the simulated pool: every record converts to an XO object the way
// xapi-object-to-xo does it (the pool included, which once failed on a missing field), links
// follow the VM as it starts, and the Test button works with its form left empty.

import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { PluginApiError } from '../../xo-plugin/xo-errors.ts'
import { FIREWALL_POOL as F, type Harness, startHarness, waitFor } from './helpers.ts'

let h: Harness | undefined

after(async () => {
  await h?.close()
})

describe('the simulated pool as xo-server sees it', { timeout: 120_000 }, () => {
  it('is a pool object, and the VM and VIF objects follow the VM as it starts', async () => {
    h = await startHarness()
    const { sim, xo } = h
    const vmId = sim.vm(F.firewallVm).uuid
    await waitFor('the objects', () => xo.getObjects({ filter: o => o.id === vmId })[vmId])
    assert.deepEqual(
      xo.conversionErrors.map(e => `${e.type} ${e.id}: ${e.error.message}`),
      [],
    )
    const pools = Object.values(xo.getObjects({ filter: o => o.type === 'pool' }))
    assert.deepEqual(
      pools.map(p => p.name_label),
      ['Firewall pool'],
    )
    assert.equal(xo.getObject(vmId, 'VM').$container, pools[0]!.id, 'a halted VM sits in its pool')
    await sim.startVm(F.firewallVm, 'host1')
    await waitFor('the VM on host1', () => xo.getObject(vmId, 'VM').$container === sim.host('host1').uuid)
    const vifsAttached = () =>
      (xo.getObject(vmId, 'VM').VIFs as string[])
        .map(id => xo.getObject(id, 'VIF'))
        .every(v => v.attached === true && v.$VM === vmId)
    await waitFor('its VIFs attached', vifsAttached)
    assert.deepEqual(xo.conversionErrors, [])
  })

  it('runs the Test with the form left empty, as xo-web sends it, and records the report in a task', async () => {
    const { plugin, binding, xo } = h!
    await plugin.configure({ bindings: [binding] })
    await plugin.load()
    await plugin.instance.whenIdle()
    const report = (await plugin.test(undefined)) as { bindings: unknown[] }
    assert.equal(report.bindings.length, 1)
    const task = xo.tasks.logs.at(-1)!
    assert.equal(task.status, 'success')
    assert.match(task.infos[0]!.message, /binding 1 \(VM "firewall", network "Private dom0 link"\)/)
    await assert.rejects(plugin.test({ binding: 3 }), (error: PluginApiError) => error.toJsonRpcError().code === 10)
  })
})
