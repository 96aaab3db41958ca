import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseBinding } from '../../shared/binding.ts'
import { desiredForPool } from '../../xo-plugin/desired.ts'
import { resolveBindings } from '../../xo-plugin/resolve.ts'
import { PoolIndex } from '../../xo-plugin/xapi-types.ts'
import { firewallPool, startOn } from './xo-fakes.ts'

describe('desiredForPool', () => {
  it('wants a binding only while the VM is resident with its VIF attached (paused included)', () => {
    const { xapi, vm, vif, hosts } = firewallPool()
    const bindings = [parseBinding({ vm: vm.uuid, network: 'dom0-firewall', addresses: ['192.168.1.2/24'] }, 0)]
    const desired = () => desiredForPool(new PoolIndex(xapi), resolveBindings(bindings, [xapi]).resolved, 10).bindings
    assert.equal(desired().size, 0)
    xapi.update(vm, { power_state: 'Running', resident_on: hosts[0].$ref })
    assert.equal(desired().size, 0, 'VIF not attached yet')
    startOn(xapi, vm, vif, hosts[0])
    assert.deepEqual([...desired().keys()], [`${hosts[0].uuid}/xapi1`])
    xapi.update(vm, { power_state: 'Paused' })
    assert.equal(desired().size, 1)
    xapi.update(vm, { power_state: 'Suspended', resident_on: 'OpaqueRef:NULL' })
    assert.equal(desired().size, 0)
  })

  it('keeps the first of two bindings that want one bridge on one host, and says so', () => {
    const { xapi, vm, vif, priv, hosts } = firewallPool()
    const vm2 = xapi.add('VM', {
      name_label: 'fw2',
      power_state: 'Halted',
      resident_on: 'OpaqueRef:NULL',
      VIFs: [],
      is_control_domain: false,
      is_a_template: false,
      is_a_snapshot: false,
    })
    const vif2 = xapi.add('VIF', { VM: vm2.$ref, network: priv.$ref, device: '0', currently_attached: false })
    const vm2b = xapi.update(vm2, { VIFs: [vif2.$ref] })
    startOn(xapi, vm, vif, hosts[0])
    startOn(xapi, vm2b, vif2, hosts[0])
    const bindings = [
      parseBinding({ vm: vm.uuid, network: 'dom0-firewall', addresses: ['192.168.1.2/24'] }, 0),
      parseBinding({ vm: vm2.uuid, network: 'dom0-firewall', addresses: ['192.168.1.3/24'] }, 1),
    ]
    const state = desiredForPool(new PoolIndex(xapi), resolveBindings(bindings, [xapi]).resolved, 10)
    assert.equal(state.bindings.size, 1)
    assert.equal([...state.bindings.values()][0]!.bindingIndex, 0)
    assert.match(state.conflicts[0]!, /binding 2 .*bridge xapi1 on host "host1" is already bound by binding 1/)
  })

  it('refuses a template as the firewall VM', () => {
    const { xapi, priv } = firewallPool()
    const template = xapi.add('VM', {
      name_label: 'tpl',
      power_state: 'Halted',
      resident_on: 'OpaqueRef:NULL',
      VIFs: [],
      is_control_domain: false,
      is_a_template: true,
      is_a_snapshot: false,
    })
    const resolution = resolveBindings(
      [parseBinding({ vm: template.uuid, network: priv.uuid, addresses: ['192.168.1.2/24'] }, 0)],
      [xapi],
    )
    assert.match(resolution.unresolved[0]!.error.message, /"tpl" .* is a template, snapshot or control domain/)
  })
})
