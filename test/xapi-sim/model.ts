// Scenario → xapi records: pool, hosts with their metrics and control domains, networks
// with a PIF per host (or none), VMs with their VIFs and metrics, SRs with a PBD per host.
// Cross references (host.PIFs, network.VIFs, SR.PBDs, VM.VIFs...) are filled both ways.

import * as R from './records.ts'
import type { ScenarioDefinition } from './scenario.ts'
import { NULL_REF, type ObjectStore } from './store.ts'

export interface Model {
  pool: string
  hosts: Map<string, string> // name → ref
  networks: Map<string, string>
  vms: Map<string, string>
  srs: Map<string, string>
}

export function buildModel(store: ObjectStore, def: ScenarioDefinition): Model {
  const model: Model = { pool: '', hosts: new Map(), networks: new Map(), vms: new Map(), srs: new Map() }
  if (def.hosts.length === 0) throw new Error('a scenario needs at least one host')

  for (const h of def.hosts) {
    const metrics = store.create('host_metrics', R.hostMetricsRecord())
    const host = store.create(
      'host',
      R.hostRecord({
        name_label: h.name,
        hostname: h.name,
        address: h.address,
        enabled: h.enabled ?? true,
        metrics,
        other_config: { ...(R.hostRecord().other_config as Record<string, string>), ...h.other_config },
      }),
    )
    const dom0Metrics = store.create('VM_metrics', R.vmMetricsRecord({ start_time: new Date() }))
    const dom0 = store.create(
      'VM',
      R.vmRecord({
        name_label: `Control domain on host: ${h.name}`,
        is_control_domain: true,
        power_state: 'Running',
        resident_on: host,
        domid: 0,
        metrics: dom0Metrics,
        domain_type: 'pv',
      }),
    )
    const hostRecord = store.get('host', host)
    store.update('host', host, {
      control_domain: dom0,
      control_domain_uuid: store.get('VM', dom0).uuid as string,
      resident_VMs: [dom0],
      software_version: { ...(hostRecord.software_version as Record<string, string>), hostname: h.name },
    })
    model.hosts.set(h.name, host)
  }
  const master = model.hosts.get(def.hosts[0]!.name)!
  model.pool = store.create(
    'pool',
    R.poolRecord({ name_label: def.pool?.name_label ?? def.name, master, other_config: { ...def.pool?.other_config } }),
  )

  let xenbr = 0
  let xapi = 0
  for (const n of def.networks) {
    const bridge = n.bridge ?? (n.pif ? `xenbr${xenbr++}` : `xapi${xapi++}`)
    const network = store.create(
      'network',
      R.networkRecord({ name_label: n.name, bridge, other_config: { ...n.other_config } }),
    )
    model.networks.set(n.name, network)
    if (!n.pif) continue
    const p = n.pif
    for (const h of def.hosts) {
      const host = model.hosts.get(h.name)!
      const metrics = store.create('PIF_metrics', R.pifMetricsRecord({ carrier: p.connectTo !== undefined }))
      const static_ = (p.ip_configuration_mode ?? 'None') === 'Static'
      const pif = store.create(
        'PIF',
        R.pifRecord({
          device: p.device,
          network,
          host,
          metrics,
          management: p.management ?? false,
          ip_configuration_mode: p.ip_configuration_mode ?? 'None',
          IP: static_ ? (p.IP === 'host-address' || p.IP === undefined ? h.address : p.IP) : '',
          netmask: static_ ? (p.netmask ?? '255.255.255.0') : '',
          gateway: static_ ? (p.gateway ?? '') : '',
        }),
      )
      store.update('network', network, r => void (r.PIFs as string[]).push(pif))
      store.update('host', host, r => void (r.PIFs as string[]).push(pif))
    }
  }

  for (const v of def.vms ?? []) {
    const affinity = v.affinity ? model.hosts.get(v.affinity) : undefined
    if (v.affinity && !affinity) throw new Error(`VM ${v.name}: unknown host ${v.affinity}`)
    const metrics = store.create('VM_metrics', R.vmMetricsRecord())
    const vm = store.create(
      'VM',
      R.vmRecord({
        name_label: v.name,
        affinity: affinity ?? NULL_REF,
        metrics,
        other_config: { ...v.other_config },
        order: v.order ?? 0,
        start_delay: v.start_delay ?? 0,
      }),
    )
    model.vms.set(v.name, vm)
    ;(v.vifs ?? []).forEach((vifDef, index) => {
      const network = model.networks.get(vifDef.network)
      if (!network) throw new Error(`VM ${v.name}: unknown network ${vifDef.network}`)
      const vif = store.create(
        'VIF',
        R.vifRecord({
          device: vifDef.device ?? String(index),
          network,
          VM: vm,
          ...(vifDef.MAC ? { MAC: vifDef.MAC } : {}),
          other_config: { ...vifDef.other_config },
        }),
      )
      store.update('VM', vm, r => void (r.VIFs as string[]).push(vif))
      store.update('network', network, r => void (r.VIFs as string[]).push(vif))
    })
  }

  for (const s of def.srs ?? []) {
    const sr = store.create(
      'SR',
      R.srRecord({ name_label: s.name, type: s.type, shared: s.shared ?? true, other_config: { ...s.other_config } }),
    )
    model.srs.set(s.name, sr)
    for (const host of model.hosts.values()) {
      const pbd = store.create('PBD', R.pbdRecord({ host, SR: sr, device_config: { ...s.device_config } }))
      store.update('SR', sr, r => void (r.PBDs as string[]).push(pbd))
      store.update('host', host, r => void (r.PBDs as string[]).push(pbd))
    }
  }
  for (const v of def.vms ?? []) addDisks(store, model, v)
  return model
}

/** A VDI on each named SR and the VBD plugging it into the VM. */
function addDisks(store: ObjectStore, model: Model, v: NonNullable<ScenarioDefinition['vms']>[number]): void {
  const vm = model.vms.get(v.name)!
  ;(v.disks ?? []).forEach((disk, index) => {
    const sr = model.srs.get(disk.sr)
    if (!sr) throw new Error(`VM ${v.name}: unknown SR ${disk.sr}`)
    const vdi = store.create('VDI', R.vdiRecord({ name_label: `${v.name} disk ${index}`, SR: sr }))
    const vbd = store.create(
      'VBD',
      R.vbdRecord({ VM: vm, VDI: vdi, userdevice: String(index), type: disk.type ?? 'Disk' }),
    )
    store.update('VDI', vdi, r => void (r.VBDs as string[]).push(vbd))
    store.update('SR', sr, r => void (r.VDIs as string[]).push(vdi))
    store.update('VM', vm, r => void (r.VBDs as string[]).push(vbd))
  })
}
