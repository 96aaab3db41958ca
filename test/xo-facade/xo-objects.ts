// XO objects as xo-server builds them from raw xapi records
// (packages/xo-server/src/xapi-object-to-xo.mjs), for the types and fields this project
// deals with. Each field is read the way xo-server reads it, so a record xo-server cannot
// convert (a pool without `ha_statefiles`, say) fails here too instead of silently passing.

type Raw = Record<string, unknown> & { $id: string; $ref: string; $type: string; $pool?: Raw }
export type XoObject = Readonly<Record<string, unknown> & { id: string; type: string; $pool: string; _xapiRef: string }>

const NULL_REF = 'OpaqueRef:NULL'

/** `link(obj, field)` of xo-server: the linked records' ids (undefined when not cached). */
function link(obj: Raw, field: string): unknown {
  const value = obj[`$${field}`] as Raw | (Raw | undefined)[] | undefined | null
  if (value == null) return value
  return Array.isArray(value) ? value.map(v => v?.$id) : value.$id
}

const TRANSFORMS: Record<string, (obj: Raw) => Record<string, unknown>> = {
  pool: obj => ({
    name_label: (obj.name_label as string) || (obj.$master as Raw).name_label,
    master: link(obj, 'master'),
    default_SR: link(obj, 'default_SR'),
    haSrs: (obj.$ha_statefiles as (Raw | undefined)[]).filter(v => v !== undefined).map(v => link(v!, 'SR')),
    HA_enabled: Boolean(obj.ha_enabled),
    otherConfig: obj.other_config,
    platform_version: ((obj.$master as Raw).software_version as Record<string, string>).platform_version,
  }),
  host: obj => ({
    name_label: obj.name_label,
    address: obj.address,
    enabled: Boolean(obj.enabled),
    hvmCapable: (obj.capabilities as string[]).some(c => c.startsWith('hvm')),
    PIFs: link(obj, 'PIFs'),
    $PBDs: link(obj, 'PBDs'),
    residentVms: link(obj, 'resident_VMs'),
    power_state: obj.$metrics ? ((obj.$metrics as Raw).live ? 'Running' : 'Halted') : 'Unknown',
  }),
  vm: obj => ({
    type: obj.is_a_template
      ? 'VM-template'
      : obj.is_a_snapshot
        ? 'VM-snapshot'
        : obj.is_control_domain
          ? 'VM-controller'
          : 'VM',
    name_label: obj.name_label,
    power_state: obj.power_state,
    // running (or paused, suspended on a host): its host; halted: its pool
    $container: obj.resident_on !== NULL_REF ? link(obj, 'resident_on') : link(obj, 'pool'),
    $VBDs: link(obj, 'VBDs'),
    VIFs: link(obj, 'VIFs'),
    other: obj.other_config,
    startDelay: +(obj.start_delay as number),
  }),
  vif: obj => ({
    type: 'VIF',
    attached: Boolean(obj.currently_attached),
    device: obj.device,
    MAC: obj.MAC,
    $network: link(obj, 'network'),
    $VM: link(obj, 'VM'),
  }),
  network: obj => ({
    name_label: obj.name_label,
    bridge: obj.bridge,
    MTU: +(obj.MTU as number),
    PIFs: link(obj, 'PIFs'),
    VIFs: link(obj, 'VIFs'),
  }),
  sr: obj => ({
    type: 'SR',
    name_label: obj.name_label,
    SR_type: obj.type,
    shared: Boolean(obj.shared),
    $container:
      obj.shared || !obj.$PBDs || !(obj.$PBDs as Raw[])[0] ? link(obj, 'pool') : link((obj.$PBDs as Raw[])[0]!, 'host'),
    $PBDs: link(obj, 'PBDs'),
  }),
  pbd: obj => ({
    type: 'PBD',
    attached: Boolean(obj.currently_attached),
    host: link(obj, 'host'),
    SR: link(obj, 'SR'),
    device_config: obj.device_config,
  }),
  pif: obj => ({
    type: 'PIF',
    attached: Boolean(obj.currently_attached),
    device: obj.device,
    management: Boolean(obj.management),
    ip: obj.IP,
    $host: link(obj, 'host'),
    $network: link(obj, 'network'),
  }),
}

/** The XO object of a raw record, or undefined for a type this facade does not convert. */
export function toXoObject(raw: Raw): XoObject | undefined {
  const transform = TRANSFORMS[raw.$type.toLowerCase()]
  if (!transform) return undefined
  const object: Record<string, unknown> = { id: raw.$id, type: raw.$type, ...transform(raw) }
  if ('uuid' in raw) object.uuid = raw.uuid
  object.$pool = (raw.$pool as Raw).$id
  object._xapiRef = raw.$ref
  return Object.freeze(object) as XoObject
}
