// Default records, one builder per class, with the fields xapi returns (the subset Xen
// Orchestra's object transforms and this project read, plus the usual neighbours so
// generic code finds the shapes it expects). Callers override what a scenario decides.

import { randomBytes, randomUUID } from 'node:crypto'
import { uptime } from 'node:os'
import { NULL_REF, type XapiRecord } from './store.ts'

const EMPTY_MAP = (): Record<string, string> => ({})

export function randomMac(): string {
  const b = randomBytes(3)
  return ['00', '16', '3e', ...[...b].map(x => x.toString(16).padStart(2, '0'))].join(':')
}

export function poolRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    name_label: 'pool',
    name_description: '',
    master: NULL_REF,
    default_SR: NULL_REF,
    suspend_image_SR: NULL_REF,
    crash_dump_SR: NULL_REF,
    other_config: EMPTY_MAP(),
    ha_enabled: false,
    ha_configuration: EMPTY_MAP(),
    ha_statefiles: [],
    ha_reboot_vm_on_internal_shutdown: true,
    migration_compression: false,
    blobs: EMPTY_MAP(),
    tags: [],
    gui_config: EMPTY_MAP(),
    health_check_config: EMPTY_MAP(),
    wlb_enabled: false,
    redo_log_enabled: false,
    vswitch_controller: '',
    restrictions: EMPTY_MAP(),
    cpu_info: { cpu_count: '4', socket_count: '1', vendor: 'GenuineIntel' },
    allowed_operations: [],
    current_operations: EMPTY_MAP(),
    platform_version: '3.4.0',
    ...o,
  }
}

export function hostRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    name_label: 'host',
    name_description: '',
    hostname: 'host',
    address: '',
    enabled: true,
    memory_overhead: 0,
    allowed_operations: ['provision', 'evacuate', 'reboot', 'shutdown', 'vm_start', 'vm_resume', 'vm_migrate'],
    current_operations: EMPTY_MAP(),
    API_version_major: 2,
    API_version_minor: 21,
    API_version_vendor: 'XenSource',
    API_version_vendor_implementation: EMPTY_MAP(),
    software_version: {
      product_brand: 'XCP-ng',
      product_version: '8.3.0',
      platform_version: '3.4.0',
      xapi: '24.19',
      xen: '4.17.5',
      hostname: 'localhost',
      build_number: 'release/yangtze/master/58',
    },
    other_config: { agent_start_time: String(Date.now() / 1000), boot_time: String(bootTime()), iscsi_iqn: '' },
    capabilities: [],
    cpu_configuration: EMPTY_MAP(),
    sched_policy: 'credit',
    supported_bootloaders: ['pygrub', 'eliloader'],
    resident_VMs: [],
    logging: EMPTY_MAP(),
    PIFs: [],
    suspend_image_sr: NULL_REF,
    crash_dump_sr: NULL_REF,
    crashdumps: [],
    patches: [],
    updates: [],
    updates_requiring_reboot: [],
    PBDs: [],
    host_CPUs: [],
    cpu_info: {
      cpu_count: '4',
      socket_count: '1',
      vendor: 'GenuineIntel',
      speed: '2400.000',
      modelname: 'Simulated CPU',
    },
    metrics: NULL_REF,
    control_domain: NULL_REF,
    ha_statefiles: [],
    ha_network_peers: [],
    blobs: EMPTY_MAP(),
    tags: [],
    external_auth_type: '',
    external_auth_service_name: '',
    external_auth_configuration: EMPTY_MAP(),
    edition: 'xcp-ng',
    license_params: EMPTY_MAP(),
    license_server: EMPTY_MAP(),
    bios_strings: EMPTY_MAP(),
    power_on_mode: '',
    power_on_config: EMPTY_MAP(),
    local_cache_sr: NULL_REF,
    chipset_info: EMPTY_MAP(),
    PCIs: [],
    PGPUs: [],
    PUSBs: [],
    ssl_legacy: false,
    guest_VCPUs_params: EMPTY_MAP(),
    display: 'enabled',
    virtual_hardware_platform_versions: [0, 1, 2],
    control_domain_uuid: '',
    iscsi_iqn: '',
    multipathing: false,
    features: [],
    certificates: [],
    editions: ['xcp-ng'],
    ...o,
  }
}

export function hostMetricsRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    memory_total: 8 * 1024 ** 3,
    memory_free: 6 * 1024 ** 3,
    live: true,
    last_updated: new Date(),
    other_config: EMPTY_MAP(),
    ...o,
  }
}

export function networkRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    name_label: 'network',
    name_description: '',
    allowed_operations: [],
    current_operations: EMPTY_MAP(),
    VIFs: [],
    PIFs: [],
    MTU: 1500,
    other_config: EMPTY_MAP(),
    bridge: '',
    managed: true,
    blobs: EMPTY_MAP(),
    tags: [],
    default_locking_mode: 'unlocked',
    assigned_ips: EMPTY_MAP(),
    purpose: [],
    ...o,
  }
}

export function pifRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    device: 'eth0',
    network: NULL_REF,
    host: NULL_REF,
    MAC: randomMac(),
    MTU: 1500,
    VLAN: -1,
    metrics: NULL_REF,
    physical: true,
    currently_attached: true,
    ip_configuration_mode: 'None',
    IP: '',
    netmask: '',
    gateway: '',
    DNS: '',
    bond_slave_of: NULL_REF,
    bond_master_of: [],
    VLAN_master_of: NULL_REF,
    VLAN_slave_of: [],
    management: false,
    other_config: EMPTY_MAP(),
    disallow_unplug: false,
    tunnel_access_PIF_of: [],
    tunnel_transport_PIF_of: [],
    ipv6_configuration_mode: 'None',
    IPv6: [],
    ipv6_gateway: '',
    primary_address_type: 'IPv4',
    managed: true,
    properties: { gro: 'on' },
    capabilities: [],
    igmp_snooping_status: 'unknown',
    sriov_physical_PIF_of: [],
    sriov_logical_PIF_of: [],
    PCI: NULL_REF,
    ...o,
  }
}

export function pifMetricsRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    carrier: true,
    vendor_id: '8086',
    vendor_name: 'Intel Corporation',
    device_id: '10d3',
    device_name: 'Simulated NIC',
    speed: 1000,
    duplex: true,
    pci_bus_path: '0000:00:00.0',
    last_updated: new Date(),
    other_config: EMPTY_MAP(),
    ...o,
  }
}

export function vmRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    allowed_operations: [],
    current_operations: EMPTY_MAP(),
    name_label: 'vm',
    name_description: '',
    power_state: 'Halted',
    user_version: 1,
    is_a_template: false,
    is_default_template: false,
    suspend_VDI: NULL_REF,
    resident_on: NULL_REF,
    scheduled_to_be_resident_on: NULL_REF,
    affinity: NULL_REF,
    memory_overhead: 0,
    memory_target: 0,
    memory_static_max: 1024 ** 3,
    memory_dynamic_max: 1024 ** 3,
    memory_dynamic_min: 1024 ** 3,
    memory_static_min: 512 * 1024 ** 2,
    VCPUs_params: EMPTY_MAP(),
    VCPUs_max: 1,
    VCPUs_at_startup: 1,
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    consoles: [],
    VIFs: [],
    VBDs: [],
    VUSBs: [],
    crash_dumps: [],
    VTPMs: [],
    PV_bootloader: '',
    PV_kernel: '',
    PV_ramdisk: '',
    PV_args: '',
    PV_bootloader_args: '',
    PV_legacy_args: '',
    HVM_boot_policy: 'BIOS order',
    HVM_boot_params: { order: 'cd' },
    HVM_shadow_multiplier: 1,
    platform: EMPTY_MAP(),
    PCI_bus: '',
    other_config: EMPTY_MAP(),
    domid: -1,
    domarch: '',
    last_boot_CPU_flags: EMPTY_MAP(),
    is_control_domain: false,
    metrics: NULL_REF,
    guest_metrics: NULL_REF,
    last_booted_record: '',
    recommendations: '',
    xenstore_data: EMPTY_MAP(),
    ha_always_run: false,
    ha_restart_priority: '',
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: new Date(0),
    transportable_snapshot_id: '',
    blobs: EMPTY_MAP(),
    tags: [],
    blocked_operations: EMPTY_MAP(),
    snapshot_info: EMPTY_MAP(),
    snapshot_metadata: '',
    parent: NULL_REF,
    children: [],
    bios_strings: EMPTY_MAP(),
    protection_policy: NULL_REF,
    is_snapshot_from_vmpp: false,
    snapshot_schedule: NULL_REF,
    is_vmss_snapshot: false,
    appliance: NULL_REF,
    start_delay: 0,
    shutdown_delay: 0,
    order: 0,
    VGPUs: [],
    attached_PCIs: [],
    suspend_SR: NULL_REF,
    version: 0,
    generation_id: '',
    hardware_platform_version: 0,
    has_vendor_device: false,
    requires_reboot: false,
    reference_label: '',
    domain_type: 'hvm',
    NVRAM: EMPTY_MAP(),
    pending_guidances: [],
    ...o,
  }
}

export function vmMetricsRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    memory_actual: 0,
    VCPUs_number: 1,
    VCPUs_utilisation: EMPTY_MAP(),
    VCPUs_CPU: EMPTY_MAP(),
    VCPUs_params: EMPTY_MAP(),
    VCPUs_flags: EMPTY_MAP(),
    state: [],
    start_time: new Date(0),
    install_time: new Date(),
    last_updated: new Date(0),
    other_config: EMPTY_MAP(),
    hvm: true,
    nested_virt: false,
    nomigrate: false,
    current_domain_type: 'unspecified',
    ...o,
  }
}

export function vmGuestMetricsRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    os_version: EMPTY_MAP(),
    PV_drivers_version: EMPTY_MAP(),
    PV_drivers_up_to_date: false,
    PV_drivers_detected: false,
    memory: EMPTY_MAP(),
    networks: EMPTY_MAP(),
    other: EMPTY_MAP(),
    live: true,
    last_updated: new Date(0),
    other_config: EMPTY_MAP(),
    can_use_hotplug_vbd: 'unspecified',
    can_use_hotplug_vif: 'unspecified',
    ...o,
  }
}

export function vifRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    allowed_operations: [],
    current_operations: EMPTY_MAP(),
    device: '0',
    network: NULL_REF,
    VM: NULL_REF,
    MAC: randomMac(),
    MTU: 1500,
    other_config: EMPTY_MAP(),
    currently_attached: false,
    status_code: 0,
    status_detail: '',
    runtime_properties: EMPTY_MAP(),
    qos_algorithm_type: '',
    qos_algorithm_params: EMPTY_MAP(),
    qos_supported_algorithms: [],
    metrics: NULL_REF,
    MAC_autogenerated: false,
    locking_mode: 'network_default',
    ipv4_allowed: [],
    ipv6_allowed: [],
    ipv4_configuration_mode: 'None',
    ipv4_addresses: [],
    ipv4_gateway: '',
    ipv6_configuration_mode: 'None',
    ipv6_addresses: [],
    ipv6_gateway: '',
    reserved_pci: NULL_REF,
    ...o,
  }
}

export function srRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    name_label: 'SR',
    name_description: '',
    allowed_operations: ['plug', 'unplug', 'scan', 'vdi_create'],
    current_operations: EMPTY_MAP(),
    VDIs: [],
    PBDs: [],
    virtual_allocation: 0,
    physical_utilisation: 0,
    physical_size: 100 * 1024 ** 3,
    type: 'nfs',
    content_type: 'user',
    shared: true,
    other_config: EMPTY_MAP(),
    tags: [],
    sm_config: EMPTY_MAP(),
    blobs: EMPTY_MAP(),
    local_cache_enabled: false,
    introduced_by: NULL_REF,
    clustered: false,
    is_tools_sr: false,
    ...o,
  }
}

export function pbdRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    host: NULL_REF,
    SR: NULL_REF,
    device_config: EMPTY_MAP(),
    currently_attached: false,
    other_config: EMPTY_MAP(),
    ...o,
  }
}

export function taskRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    name_label: '',
    name_description: '',
    allowed_operations: ['cancel'],
    current_operations: EMPTY_MAP(),
    created: new Date(),
    finished: new Date(0),
    status: 'pending',
    resident_on: NULL_REF,
    progress: 0,
    type: '',
    result: '',
    error_info: [],
    other_config: EMPTY_MAP(),
    subtask_of: NULL_REF,
    subtasks: [],
    backtrace: '()',
    ...o,
  }
}

export function messageRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    name: '',
    priority: 5,
    cls: 'Pool',
    obj_uuid: '',
    timestamp: new Date(),
    body: '',
    ...o,
  }
}

export function consoleRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    protocol: 'rfb',
    location: '',
    VM: NULL_REF,
    other_config: EMPTY_MAP(),
    ...o,
  }
}

/** When the machine booted, in seconds: what xapi writes to host.other_config:boot_time. */
function bootTime(): number {
  return Math.floor(Date.now() / 1000 - uptime())
}

export function vdiRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    name_label: 'disk',
    name_description: '',
    SR: NULL_REF,
    VBDs: [],
    virtual_size: 10 * 2 ** 30,
    physical_utilisation: 0,
    type: 'user',
    allowed_operations: [],
    current_operations: EMPTY_MAP(),
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: new Date(0),
    cbt_enabled: false,
    sharable: false,
    read_only: false,
    managed: true,
    missing: false,
    location: '',
    other_config: EMPTY_MAP(),
    sm_config: EMPTY_MAP(),
    tags: [],
    ...o,
  }
}

export function vbdRecord(o: Partial<XapiRecord> = {}): XapiRecord {
  return {
    uuid: randomUUID(),
    VM: NULL_REF,
    VDI: NULL_REF,
    device: '',
    userdevice: '0',
    bootable: false,
    mode: 'RW',
    type: 'Disk',
    empty: false,
    currently_attached: false,
    other_config: EMPTY_MAP(),
    ...o,
  }
}
