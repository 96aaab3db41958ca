// VM and VIF lifecycle wired to the kernel. Starting a VM on a host creates, per VIF, the
// network's bridge in that host's namespace if missing, a veth vif<domid>.<device> on it
// whose peer eth<device> lives in the VM's namespace (with the guest's addresses), flips
// VIF.currently_attached, then runs the vif-hotplug hook. Shutdown, unplug and migration
// undo or move that; a PIF-less bridge goes away with its last port, as xcp-networkd does
// (on Open vSwitch: `ovs-vsctl add-br` on the first VIF, `del-br` after the last one's
// `del-port`).
// Operations are serialised: the kernel objects they touch are shared.

import { XapiFailure } from './errors.ts'
import { runVifHotplug } from './hooks.ts'
import { ipIn } from './netns-tools.ts'
import { consoleRecord } from './records.ts'
import { NULL_REF, type ObjectStore } from './store.ts'
import type { Timeline } from './timeline.ts'
import { applyRoutes, type HostRuntime, type VmRuntime, type World } from './topology.ts'

export class Lifecycle {
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private store: ObjectStore,
    private world: World,
    private hosts: Map<string, HostRuntime>,
    private vms: Map<string, VmRuntime>,
    private timeline: Timeline,
  ) {}

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  private vmRuntime(ref: string): VmRuntime {
    const vm = this.store.get('VM', ref)
    if (vm.is_control_domain)
      throw new XapiFailure('OPERATION_NOT_ALLOWED', ['This operation is not allowed on a control domain'])
    if (vm.is_a_template) throw new XapiFailure('VM_IS_TEMPLATE', [ref])
    const runtime = this.vms.get(ref)
    if (!runtime) throw new XapiFailure('INTERNAL_ERROR', [`VM ${ref} has no simulated guest`])
    return runtime
  }

  private hostRuntime(ref: string): HostRuntime {
    this.store.get('host', ref)
    const runtime = this.hosts.get(ref)
    if (!runtime) throw new XapiFailure('HANDLE_INVALID', ['host', ref])
    return runtime
  }

  private requirePowerState(ref: string, expected: 'Halted' | 'Running'): void {
    const actual = this.store.get('VM', ref).power_state as string
    if (actual !== expected)
      throw new XapiFailure('VM_BAD_POWER_STATE', [ref, expected.toLowerCase(), actual.toLowerCase()])
  }

  private requireEnabled(hostRef: string): void {
    if (this.store.get('host', hostRef).enabled !== true) throw new XapiFailure('HOST_DISABLED', [hostRef])
  }

  /** xapi starts a VM only where every SR holding one of its disks is attached. */
  private requireStorage(vmRef: string, hostRef: string): void {
    for (const vbd of (this.store.get('VM', vmRef).VBDs as string[] | undefined) ?? []) {
      const { VDI: vdi, empty } = this.store.get('VBD', vbd)
      if (empty === true || vdi === NULL_REF) continue
      const sr = this.store.get('VDI', vdi as string).SR as string
      const attached = this.store.where('PBD', p => p.SR === sr && p.host === hostRef && p.currently_attached === true)
      if (attached.length === 0) throw new XapiFailure('VM_REQUIRES_SR', [vmRef, sr])
    }
  }

  private chooseHost(vmRef: string): string {
    const affinity = this.store.get('VM', vmRef).affinity as string
    if (affinity !== NULL_REF && this.store.find('host', affinity)?.enabled === true) return affinity
    const enabled = this.store.where('host', h => h.enabled === true)
    if (enabled.length === 0) throw new XapiFailure('NO_HOSTS_AVAILABLE', [])
    return enabled[0]!
  }

  start(vmRef: string, hostRef?: string): Promise<void> {
    return this.exclusive(async () => {
      const vm = this.vmRuntime(vmRef)
      this.requirePowerState(vmRef, 'Halted')
      const target = hostRef ?? this.chooseHost(vmRef)
      const host = this.hostRuntime(target)
      this.requireEnabled(target)
      this.requireStorage(vmRef, target)
      const domid = host.nextDomid++
      this.store.update('VM', vmRef, {
        power_state: 'Running',
        resident_on: target,
        domid,
        scheduled_to_be_resident_on: NULL_REF,
      })
      this.store.update('host', target, r => void (r.resident_VMs as string[]).push(vmRef))
      this.touchMetrics(vmRef, true)
      this.createConsole(vmRef, host)
      for (const vif of this.vifsOf(vmRef)) await this.attach(host, vm, vif, domid)
      await applyRoutes(vm.netns, vm.guest.routes ?? []).catch(() => undefined)
      this.timeline.record('vm.started', { host: host.uuid, vm: vm.uuid, detail: { domid } })
    })
  }

  shutdown(vmRef: string): Promise<void> {
    return this.exclusive(async () => {
      const vm = this.vmRuntime(vmRef)
      this.requirePowerState(vmRef, 'Running')
      const record = this.store.get('VM', vmRef)
      const hostRef = record.resident_on as string
      const host = this.hostRuntime(hostRef)
      const domid = record.domid as number
      for (const vif of this.vifsOf(vmRef).reverse()) {
        if (this.store.get('VIF', vif).currently_attached) await this.detach(host, vm, vif, domid, false)
      }
      this.destroyConsoles(vmRef)
      this.store.update('VM', vmRef, { power_state: 'Halted', resident_on: NULL_REF, domid: -1 })
      this.store.update('host', hostRef, r => {
        r.resident_VMs = (r.resident_VMs as string[]).filter(v => v !== vmRef)
      })
      this.touchMetrics(vmRef, false)
      this.timeline.record('vm.halted', { host: host.uuid, vm: vm.uuid })
    })
  }

  migrate(vmRef: string, targetRef: string): Promise<void> {
    return this.exclusive(async () => {
      const vm = this.vmRuntime(vmRef)
      this.requirePowerState(vmRef, 'Running')
      const target = this.hostRuntime(targetRef)
      this.requireEnabled(targetRef)
      const record = this.store.get('VM', vmRef)
      const sourceRef = record.resident_on as string
      const source = this.hostRuntime(sourceRef)
      const oldDomid = record.domid as number
      const newDomid = target.nextDomid++
      const attached = this.vifsOf(vmRef).filter(v => this.store.get('VIF', v).currently_attached === true)
      // The guest's interfaces are the same on both sides: it pauses, its devices leave the
      // source, then come up on the destination.
      for (const vif of [...attached].reverse()) await this.detach(source, vm, vif, oldDomid, true)
      this.destroyConsoles(vmRef)
      this.store.update('host', sourceRef, r => {
        r.resident_VMs = (r.resident_VMs as string[]).filter(v => v !== vmRef)
      })
      this.store.update('VM', vmRef, { resident_on: targetRef, domid: newDomid })
      this.store.update('host', targetRef, r => void (r.resident_VMs as string[]).push(vmRef))
      this.createConsole(vmRef, target)
      for (const vif of attached) await this.attach(target, vm, vif, newDomid)
      await applyRoutes(vm.netns, vm.guest.routes ?? []).catch(() => undefined)
      this.timeline.record('vm.migrated', {
        host: target.uuid,
        vm: vm.uuid,
        detail: { from: source.uuid, domid: newDomid },
      })
    })
  }

  plugVif(vifRef: string): Promise<void> {
    return this.exclusive(async () => {
      const vif = this.store.get('VIF', vifRef)
      const vmRef = vif.VM as string
      const vm = this.vmRuntime(vmRef)
      this.requirePowerState(vmRef, 'Running')
      if (vif.currently_attached) throw new XapiFailure('DEVICE_ALREADY_ATTACHED', [vifRef])
      const record = this.store.get('VM', vmRef)
      await this.attach(this.hostRuntime(record.resident_on as string), vm, vifRef, record.domid as number)
      await applyRoutes(vm.netns, vm.guest.routes ?? []).catch(() => undefined)
    })
  }

  unplugVif(vifRef: string): Promise<void> {
    return this.exclusive(async () => {
      const vif = this.store.get('VIF', vifRef)
      const vmRef = vif.VM as string
      const vm = this.vmRuntime(vmRef)
      this.requirePowerState(vmRef, 'Running')
      if (!vif.currently_attached) throw new XapiFailure('DEVICE_ALREADY_DETACHED', [vifRef])
      const record = this.store.get('VM', vmRef)
      await this.detach(this.hostRuntime(record.resident_on as string), vm, vifRef, record.domid as number, false)
    })
  }

  /** The interface name dom0 gives a VIF of a running VM. */
  static vifDevice(domid: number, device: string): string {
    return `vif${domid}.${device}`
  }

  private vifsOf(vmRef: string): string[] {
    return [...(this.store.get('VM', vmRef).VIFs as string[])].sort(
      (a, b) => Number(this.store.get('VIF', a).device) - Number(this.store.get('VIF', b).device),
    )
  }

  private async attach(host: HostRuntime, vm: VmRuntime, vifRef: string, domid: number): Promise<void> {
    const vif = this.store.get('VIF', vifRef)
    const network = this.store.get('network', vif.network as string)
    const bridge = network.bridge as string
    const bridges = this.world.bridges(host.netns)
    if (!(await bridges.list()).includes(bridge)) {
      await bridges.create(bridge)
      this.timeline.record('bridge.created', { host: host.uuid, detail: { bridge } })
    }
    const device = vif.device as string
    const dev = Lifecycle.vifDevice(domid, device)
    const guestDev = `eth${device}`
    await ipIn(host.netns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', guestDev, 'netns', vm.netns)
    await ipIn(vm.netns, 'link', 'set', guestDev, 'address', vif.MAC as string)
    await bridges.attach(bridge, dev)
    await ipIn(host.netns, 'link', 'set', dev, 'up')
    await ipIn(vm.netns, 'link', 'set', guestDev, 'up')
    for (const address of vm.guest.addresses?.[device] ?? [])
      await ipIn(vm.netns, 'addr', 'replace', address, 'dev', guestDev)
    if (vif.currently_attached !== true) this.store.update('VIF', vifRef, { currently_attached: true })
    this.timeline.record('vif.attached', {
      host: host.uuid,
      vm: vm.uuid,
      vif: vif.uuid as string,
      detail: { device: dev, bridge, domid },
    })
    await runVifHotplug(host, 'online', vif.uuid as string, vm.uuid, this.timeline)
  }

  private async detach(
    host: HostRuntime,
    vm: VmRuntime,
    vifRef: string,
    domid: number,
    migrating: boolean,
  ): Promise<void> {
    const vif = this.store.get('VIF', vifRef)
    const network = this.store.get('network', vif.network as string)
    const bridge = network.bridge as string
    const dev = Lifecycle.vifDevice(domid, vif.device as string)
    const bridges = this.world.bridges(host.netns)
    // Deleting one end of a veth deletes the guest's end too.
    await ipIn(host.netns, 'link', 'del', dev).catch(() => undefined)
    if (!migrating) this.store.update('VIF', vifRef, { currently_attached: false })
    this.timeline.record('vif.detached', {
      host: host.uuid,
      vm: vm.uuid,
      vif: vif.uuid as string,
      detail: { device: dev, bridge, domid },
    })
    await runVifHotplug(host, 'remove', vif.uuid as string, vm.uuid, this.timeline)
    // xapi's vif script, on remove: the hook first, then the port leaves the bridge.
    await bridges.forget(dev)
    const pifLess = (network.PIFs as string[]).length === 0
    if (pifLess && (await bridges.list()).includes(bridge) && (await bridges.ports(bridge)).length === 0) {
      await bridges.destroy(bridge).catch(() => undefined)
      this.timeline.record('bridge.destroyed', { host: host.uuid, detail: { bridge } })
    }
  }

  private createConsole(vmRef: string, host: HostRuntime): void {
    const address = this.store.get('host', host.ref).address as string
    const record = consoleRecord({ VM: vmRef })
    record.location = `https://${address}/console?uuid=${record.uuid as string}`
    const ref = this.store.create('console', record)
    this.store.update('VM', vmRef, r => void (r.consoles as string[]).push(ref))
  }

  private destroyConsoles(vmRef: string): void {
    const consoles = this.store.get('VM', vmRef).consoles as string[]
    this.store.update('VM', vmRef, { consoles: [] })
    for (const ref of consoles) if (this.store.find('console', ref)) this.store.destroy('console', ref)
  }

  private touchMetrics(vmRef: string, running: boolean): void {
    const metrics = this.store.get('VM', vmRef).metrics as string
    if (!this.store.find('VM_metrics', metrics)) return
    this.store.update(
      'VM_metrics',
      metrics,
      running ? { start_time: new Date(), last_updated: new Date() } : { last_updated: new Date() },
    )
  }
}
