// Derives, from Xen Orchestra's packages/xo-server/src/xapi-object-to-xo.mjs, the xapi record
// fields xo-server reads for each class when it turns a record into an XO object. Writes the
// list the simulator's record test checks against (test/xapi-sim/xo-server-fields.json).
//
//   node --import tsx scripts/xo-server-fields.ts <xen-orchestra checkout> > test/xapi-sim/xo-server-fields.json
//
// (a checkout of github.com/vatesfr/xen-orchestra; the file records the commit it read)
//
// The source is read, never copied: only field names leave it. Helpers imported from other
// files are described by hand below (each with the file it lives in).

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const SOURCE = 'packages/xo-server/src/xapi-object-to-xo.mjs'

/** TRANSFORMS keys are `$type.toLowerCase()`; xapi spells the classes this way. */
const CLASS_OF: Record<string, string> = {
  pool: 'pool',
  host: 'host',
  vm: 'VM',
  sr: 'SR',
  sm: 'SM',
  pbd: 'PBD',
  pif: 'PIF',
  vdi: 'VDI',
  vbd: 'VBD',
  vif: 'VIF',
  network: 'network',
  message: 'message',
  task: 'task',
  host_patch: 'host_patch',
  pool_patch: 'pool_patch',
  pci: 'PCI',
  pgpu: 'PGPU',
  vgpu: 'VGPU',
  gpu_group: 'GPU_group',
  vgpu_type: 'VGPU_type',
  vtpm: 'VTPM',
  pusb: 'PUSB',
  vusb: 'VUSB',
  usb_group: 'USB_group',
  bond: 'Bond',
}

/** Reference fields whose target class differs from the field name (xapi's datamodel). */
const LINK_CLASS: Record<string, Record<string, string>> = {
  pool: { master: 'host', default_SR: 'SR', crash_dump_SR: 'SR', suspend_image_SR: 'SR', ha_statefiles: 'VDI' },
  host: {
    metrics: 'host_metrics',
    control_domain: 'VM',
    resident_VMs: 'VM',
    updates: 'pool_update',
    certificates: 'Certificate',
  },
  VM: {
    metrics: 'VM_metrics',
    guest_metrics: 'VM_guest_metrics',
    resident_on: 'host',
    affinity: 'host',
    snapshot_of: 'VM',
    parent: 'VM',
    suspend_SR: 'SR',
    suspend_VDI: 'VDI',
  },
  PIF: { metrics: 'PIF_metrics', host: 'host', network: 'network', bond_master_of: 'Bond', bond_slave_of: 'Bond' },
  VIF: { VM: 'VM', network: 'network' },
  PBD: { host: 'host', SR: 'SR' },
  VBD: { VM: 'VM', VDI: 'VDI' },
  VDI: { SR: 'SR', snapshot_of: 'VDI' },
  SR: { PBDs: 'PBD', VDIs: 'VDI' },
  task: { resident_on: 'host' },
}

/** Helpers defined in other files: what they read of the record they get. */
const IMPORTED_HELPERS: Record<string, { from: string; reads: string[] }> = {
  isHostRunning: { from: 'packages/xo-server/src/xapi/utils.mjs', reads: ['$metrics.live'] },
  isVmRunning: { from: 'packages/xo-server/src/xapi/utils.mjs', reads: ['power_state'] },
  getVmDomainType: { from: 'packages/xo-server/src/xapi/utils.mjs', reads: ['domain_type', 'HVM_boot_policy'] },
  useUpdateSystem: { from: 'packages/xo-server/src/xapi/utils.mjs', reads: ['software_version'] },
}

/** Fields the `xen-api` client itself reads (packages/xen-api/index.mjs and _getTaskResult.mjs). */
const XEN_API_CLIENT: Record<string, string[]> = {
  pool: ['master', 'other_config'],
  host: ['address'],
  task: ['status', 'result', 'error_info'],
}

/** Added by the xen-api client, not record fields (packages/xen-api). */
const CLIENT_PROPERTIES = new Set(['id', 'ref', 'type', 'pool', 'xapi', 'call'])

type Reads = Map<string, Set<string>> // class → fields
const refs: Reads = new Map() // class → fields read as references (`$field`, `link(obj, 'field')`)

function add(reads: Reads, cls: string, field: string): void {
  let fields = reads.get(cls)
  if (!fields) reads.set(cls, (fields = new Set()))
  fields.add(field)
}

/** Blocks `  name(param…) {` … `  },` of the TRANSFORMS object, and top-level arrow helpers. */
function blocks(text: string, open: RegExp, close: RegExp): Map<string, { param: string; body: string }> {
  const lines = text.split('\n')
  const found = new Map<string, { param: string; body: string }>()
  for (let i = 0; i < lines.length; i++) {
    const m = open.exec(lines[i]!)
    if (!m?.groups) continue
    let j = i + 1
    while (j < lines.length && !close.test(lines[j]!)) j++
    found.set(m.groups.name!, { param: m.groups.param!, body: lines.slice(i, j + 1).join('\n') })
    i = j
  }
  return found
}

function esc(s: string): string {
  return s.replace(/[$]/g, '\\$')
}

/** Reads of `param` in `body`, as `field` or `$link.field` paths. */
function pathsRead(param: string, body: string, helpers: Map<string, string[]>): string[] {
  const p = esc(param)
  const paths: string[] = []
  for (const m of body.matchAll(new RegExp(`\\b${p}\\??\\.(\\$?\\w+)(?:\\??\\.(\\$?\\w+)(?![\\w(]))?`, 'g'))) {
    const [, head = '', sub] = m
    paths.push(head.startsWith('$') && sub && !CLIENT_PROPERTIES.has(head.slice(1)) ? `${head}.${sub}` : head)
  }
  for (const m of body.matchAll(new RegExp(`link\\(${p}, '(\\w+)'`, 'g'))) paths.push(`$${m[1]}`)
  for (const m of body.matchAll(new RegExp(`\\{([^{}]*)\\} = ${p}(?![\\w.?])`, 'g'))) {
    for (const part of (m[1] ?? '').split(',')) {
      const [key, alias] = part.split(':').map(s => s.trim())
      if (!key) continue
      paths.push(key)
      // fields read through the alias of a linked record
      if (key.startsWith('$') && alias)
        for (const sub of pathsRead(alias, body, new Map())) if (!sub.startsWith('$')) paths.push(`${key}.${sub}`)
    }
  }
  for (const [name, reads] of helpers) if (new RegExp(`\\b${name}\\(${p}\\b`).test(body)) paths.push(...reads)
  return paths
}

function record(reads: Reads, cls: string, path: string): void {
  const [head = '', sub] = path.split('.')
  const isLink = head.startsWith('$')
  const field = isLink ? head.slice(1) : head
  if (isLink && CLIENT_PROPERTIES.has(field)) {
    if (field === 'pool' && sub === '$master') add(reads, 'pool', 'master')
    return
  }
  add(reads, cls, field)
  if (isLink) add(refs, cls, field)
  const target = LINK_CLASS[cls]?.[field]
  if (sub && target && !sub.startsWith('$')) add(reads, target, sub)
}

function main(): void {
  const checkout = process.argv[2]
  if (!checkout) throw new Error('usage: xo-server-fields.ts <xen-orchestra checkout>')
  const text = readFileSync(join(checkout, SOURCE), 'utf8')
  const commit = execFileSync('git', ['-C', checkout, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim()
  const version = JSON.parse(readFileSync(join(checkout, 'packages/xo-server/package.json'), 'utf8')).version

  const helpers = new Map(Object.entries(IMPORTED_HELPERS).map(([k, v]) => [k, v.reads]))
  // Helpers of the file itself (`const name = param => {` … `}`), expanded into their callers.
  const local = blocks(text, /^const (?<name>\w+) = (?<param>\w+) => \{$/, /^\}$/)
  for (const [name, { param, body }] of local) helpers.set(name, pathsRead(param, body, helpers))

  const start = text.indexOf('const TRANSFORMS = {')
  const transforms = blocks(text.slice(start), /^ {2}(?<name>\w+)\((?<param>\w+)(?:, \w+)?\) \{$/, /^ {2}\},?$/)
  const reads: Reads = new Map()
  for (const [name, { param, body }] of transforms) {
    const cls = CLASS_OF[name]
    if (!cls) throw new Error(`unknown transform ${name}`)
    for (const path of pathsRead(param, body, helpers)) record(reads, cls, path)
    // xapiObjectToXo itself: uuid is copied when present, $pool.$id is read for every object
    add(reads, 'pool', 'uuid')
  }
  const sorted = (m: Reads) =>
    Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([c, f]) => [c, [...f].sort()]))
  const classes = sorted(reads)
  const out = {
    source: {
      repository: 'github.com/vatesfr/xen-orchestra',
      commit,
      path: SOURCE,
      xoServerVersion: version,
      helpers: Object.fromEntries(Object.entries(IMPORTED_HELPERS).map(([k, v]) => [k, v.from])),
    },
    derivedWith: 'scripts/xo-server-fields.ts',
    classes,
    references: sorted(refs),
    xenApiClient: XEN_API_CLIENT,
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n')
}

main()
