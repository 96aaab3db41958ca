// iproute's plain-text output, read into the same shapes as `ip -j`. dom0 is CentOS 7
// based and its iproute may predate `-j` (upstream added JSON for addresses in 4.13 and
// for routes in 4.15; CentOS 7 ships 4.11): the plugin asks for JSON, and falls back to
// this when ip answers that it does not know the option. The text format has been stable
// for far longer than either.

import type { IpAddress, IpLink, IpRoute } from './ip.ts'

// `2: xapi1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 …`
const LINK_LINE = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>/
// `    inet 192.0.2.2/24 brd … scope global xapi1` / `    inet6 2001:db8::2/64 scope global tentative`
const ADDRESS_LINE = /^\s+(inet6?)\s+([0-9a-fA-F.:]+)(?:\/(\d+))?(?:\s+peer\s+\S+)?\s*(.*)$/

/** `ip addr show [dev X]` → the links with their addresses. */
export function parseAddrText(text: string): IpLink[] {
  const links: IpLink[] = []
  for (const line of text.split('\n')) {
    const link = LINK_LINE.exec(line)
    if (link) {
      links.push({ ifname: link[1]!, flags: link[2] ? link[2].split(',') : [], addr_info: [] })
      continue
    }
    const address = ADDRESS_LINE.exec(line)
    const current = links.at(-1)
    if (!address || !current) continue
    const family = address[1] as IpAddress['family']
    const words = address[4]!.trim().split(/\s+/)
    const scopeAt = words.indexOf('scope')
    current.addr_info!.push({
      family,
      local: address[2]!,
      prefixlen: address[3] !== undefined ? Number(address[3]) : family === 'inet' ? 32 : 128,
      scope: scopeAt >= 0 ? words[scopeAt + 1] : undefined,
      tentative: words.includes('tentative') || undefined,
      dadfailed: words.includes('dadfailed') || undefined,
    })
  }
  return links
}

// Route types that may lead a line; `unicast` is implied when absent.
const ROUTE_TYPES = new Set([
  'unicast',
  'local',
  'broadcast',
  'multicast',
  'unreachable',
  'blackhole',
  'prohibit',
  'throw',
  'nat',
  'anycast',
])
const ROUTE_FLAGS = new Set(['onlink', 'linkdown', 'pervasive', 'dead'])

/** `ip -4|-6 route show …` → routes, one per line (multipath next hops are not ours to read). */
export function parseRouteText(text: string): IpRoute[] {
  const routes: IpRoute[] = []
  for (const line of text.split('\n')) {
    if (!line.trim() || /^\s/.test(line)) continue
    const words = line.trim().split(/\s+/)
    const type = ROUTE_TYPES.has(words[0]!) ? words.shift() : undefined
    const route: IpRoute = { dst: words.shift()!, flags: [] }
    if (type && type !== 'unicast') (route as IpRoute & { type?: string }).type = type
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!
      const next = words[i + 1]
      if (word === 'via' && (next === 'inet' || next === 'inet6') && words[i + 2]) {
        route.gateway = words[i + 2]
        i++
      } else if (word === 'via' && next) route.gateway = next
      else if (word === 'dev' && next) route.dev = next
      else if (word === 'metric' && next) route.metric = Number(next)
      else if (word === 'proto' && next) route.protocol = next
      else if (word === 'scope' && next) route.scope = next
      else if (word === 'table' && next) route.table = next
      else if (word === 'pref' && next) route.pref = next
      else if (ROUTE_FLAGS.has(word)) {
        route.flags!.push(word)
        continue
      } else continue
      i++
    }
    routes.push(route)
  }
  return routes
}
