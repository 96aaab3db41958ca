// dom0's /var/lib/xcp/local.db, where xapi keeps host-local facts that must survive a
// restart without the pool database (Localdb over Hashtbl_xml: `<config>` of
// `<row key=".." value=".."/>`): host_auto_enable (false after host.disable with
// auto_enable=false), host_disabled_until_reboot, ha.armed.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

export const localDbPath = (root: string) => join(root, 'var/lib/xcp/local.db')

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function rows(root: string): Map<string, string> {
  let text = ''
  try {
    text = readFileSync(localDbPath(root), 'utf8')
  } catch {
    return new Map()
  }
  const found = new Map<string, string>()
  for (const m of text.matchAll(/<row key="([^"]*)" value="([^"]*)"\/>/g)) {
    const unescape = (s: string) =>
      s
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&')
    found.set(unescape(m[1]!), unescape(m[2]!))
  }
  return found
}

export function getLocalDb(root: string, key: string): string | undefined {
  return rows(root).get(key)
}

/** Localdb.put: rewrites the whole file, as xapi's flush does. */
export function putLocalDb(root: string, key: string, value: string): void {
  const all = rows(root).set(key, value)
  const body = [...all].map(([k, v]) => `<row key="${escape(k)}" value="${escape(v)}"/>`).join('')
  mkdirSync(dirname(localDbPath(root)), { recursive: true })
  writeFileSync(localDbPath(root), `<?xml version="1.0" encoding="UTF-8"?><config>${body}</config>`)
}
