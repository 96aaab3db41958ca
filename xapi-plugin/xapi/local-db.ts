// xapi's host-local database, /var/lib/xcp/local.db: the facts that decide whether xapi
// itself re-enables this host (ocaml/xapi/xapi_host_helpers.ml, consider_enabling_host)
// and that no API field shows: host_auto_enable=false after a persistent host.disable,
// host_disabled_until_reboot during an HA shutdown, ha.armed. XML written by xapi's
// Hashtbl_xml: `<config><row key=".." value=".."/>…</config>`.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const LOCAL_DB = 'var/lib/xcp/local.db'

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+);/g, (_, name: string) =>
    name.startsWith('#') ? String.fromCodePoint(Number(name.slice(1))) : ENTITIES[name]!,
  )
}

/** The rows of local.db; empty when xapi has not written one (what xapi assumes too). */
export function readLocalDb(root: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(join(root, LOCAL_DB), 'utf8')
  } catch {
    return {}
  }
  const rows: Record<string, string> = {}
  for (const row of text.matchAll(/<row\s+([^>]*?)\/?>/g)) {
    const attrs = Object.fromEntries([...row[1]!.matchAll(/(\w+)\s*=\s*(["'])(.*?)\2/g)].map(a => [a[1], a[3]]))
    if (attrs.key !== undefined && attrs.value !== undefined) rows[decode(attrs.key)] = decode(attrs.value)
  }
  return rows
}
