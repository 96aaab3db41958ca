// Many `ip` commands, one process: `ip -batch -` reads them from stdin. A no-op apply reads
// the kernel with one of these, and changes it with at most one more.
//
// Reads: `addr show dev X` for each interface, then `route show table all`. With no -4/-6
// and no table named, ip dumps the routes of every family and table at once (a batch line
// cannot carry -4/-6); each route is sorted back by family (IPv6 routes carry `pref`, or an
// address with `:`) and only the main table is kept, as `ip -4|-6 route show table main`
// would print. -force lets a missing interface fail its own line only; its link is then
// simply absent from the answer.

import type { Family } from '../../shared/addresses.ts'
import { CommandError, type IpLink, type IpRoute, ipOutputIsText, linkExists, useTextOutput } from './ip.ts'
import { run } from '../runtime/run.ts'
import { parseAddrText, parseRouteText } from './ip-text.ts'

export interface KernelRead {
  links: Map<string, IpLink>
  routes: Record<Family, IpRoute[]>
}

const JSON_UNKNOWN = /Option "-j(son)?" is unknown/i
const FAILED_LINE = /^Command failed -:(\d+)\s*$/

const ANY: Record<string, string> = { '-4': '0.0.0.0/0', '-6': '::/0' }

/**
 * A batch line is split on blanks by ip: an argument must not hold any (nor quotes or #).
 * A line cannot carry -4/-6 either: ip takes the family from the addresses, so `default`
 * is spelled 0.0.0.0/0 or ::/0 (a default route with no gateway keeps its family).
 */
function batchLine(command: string[]): string {
  const family = ANY[command[0]!]
  const argv = family ? command.slice(1).map((arg, i) => (i === 2 && arg === 'default' ? family : arg)) : command
  for (const arg of argv) {
    if (!arg || /[\s"'#\\]/.test(arg))
      throw new CommandError(argv, `argument ${JSON.stringify(arg)} cannot be passed in a batch`)
  }
  return argv.join(' ')
}

/** Messages of failed lines, by 0-based line index, from ip's stderr. */
export function failedLines(stderr: string): Map<number, string> {
  const failures = new Map<number, string>()
  let message: string[] = []
  for (const line of stderr.split('\n')) {
    const failed = FAILED_LINE.exec(line)
    if (failed) {
      failures.set(Number(failed[1]) - 1, message.join(' ').trim())
      message = []
    } else if (line.trim()) message.push(line.trim())
  }
  return failures
}

function isIpv6(route: IpRoute): boolean {
  return route.pref !== undefined || route.dst.includes(':') || !!route.gateway?.includes(':')
}

function splitRoutes(routes: IpRoute[]): Record<Family, IpRoute[]> {
  const main = routes.filter(r => r.table === undefined || r.table === 'main')
  const result: Record<Family, IpRoute[]> = { 4: [], 6: [] }
  for (const { table: _table, ...route } of main) result[isIpv6(route) ? 6 : 4].push(route)
  return result
}

// One JSON array a line; an ip that knows -j for addresses but not for routes (4.13, 4.14)
// prints those as text.
function parseJson(stdout: string): { links: IpLink[]; routes: IpRoute[] } {
  const text: string[] = []
  const found: { links: IpLink[]; routes: IpRoute[] } = { links: [], routes: [] }
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('[')) {
      text.push(line)
      continue
    }
    for (const item of JSON.parse(line) as (IpLink | IpRoute)[]) {
      if ('ifname' in item) found.links.push(item)
      else found.routes.push(item)
    }
  }
  const rest = parseText(text.join('\n'))
  return { links: [...found.links, ...rest.links], routes: [...found.routes, ...rest.routes] }
}

// `N: name: <…>` and its indented lines come first (one block per interface), the routes
// last: the first line that is neither starts them.
function parseText(stdout: string): { links: IpLink[]; routes: IpRoute[] } {
  const lines = stdout.split('\n')
  const start = lines.findIndex(line => line.trim() && !/^\s/.test(line) && !/^\d+:\s+\S+:\s+</.test(line))
  const cut = start < 0 ? lines.length : start
  return { links: parseAddrText(lines.slice(0, cut).join('\n')), routes: parseRouteText(lines.slice(cut).join('\n')) }
}

/** The batch that reads `devs` and the routes; the routes come last. */
export function kernelReadScript(devs: string[]): string {
  return [...devs.map(dev => batchLine(['addr', 'show', 'dev', dev])), 'route show table all'].join('\n') + '\n'
}

/** What `ip [-j] -force -batch -` printed for kernelReadScript. */
export function parseKernelRead(stdout: string, text: boolean): KernelRead {
  const parsed = text ? parseText(stdout) : parseJson(stdout)
  return { links: new Map(parsed.links.map(link => [link.ifname, link])), routes: splitRoutes(parsed.routes) }
}

/** Every interface of `devs` (absent when it does not exist) and the main table's routes, from one `ip`. */
export async function readKernel(devs: string[]): Promise<KernelRead> {
  const input = kernelReadScript(devs)
  let text = ipOutputIsText()
  let result = await run('ip', [...(text ? [] : ['-j']), '-force', '-batch', '-'], { input })
  if (!text && JSON_UNKNOWN.test(result.stderr)) {
    useTextOutput()
    text = true
    result = await run('ip', ['-force', '-batch', '-'], { input })
  }
  const lines = input.trimEnd().split('\n')
  const failures = failedLines(result.stderr)
  const routeLine = lines.length - 1
  if (failures.has(routeLine) || result.error) {
    throw new CommandError(['route', 'show', 'table', 'all'], failures.get(routeLine) ?? result.error ?? result.stderr)
  }
  // A failed `addr show dev X` is a missing X if the kernel says so (not ip's words, which
  // may be translated); anything else is an error.
  for (const [index, message] of failures) {
    const argv = lines[index]!.split(' ')
    if (linkExists(argv.at(-1)!)) throw new CommandError(argv, message)
  }
  return parseKernelRead(result.stdout, text)
}

/**
 * Runs `ip` commands in one process, in order, stopping at the first that fails: how many
 * ran, and the failure (its index and ip's message) if one did.
 */
export async function runIpBatch(
  commands: string[][],
): Promise<{ done: number; failure?: { index: number; message: string } }> {
  if (commands.length === 0) return { done: 0 }
  const result = await run('ip', ['-batch', '-'], { input: commands.map(batchLine).join('\n') + '\n' })
  const failures = failedLines(result.stderr)
  if (failures.size === 0 && result.exitCode === 0 && !result.error) return { done: commands.length }
  const [index, message] = [...failures][0] ?? [
    0,
    result.error ?? (result.stderr.trim() || `ip exited ${result.exitCode}`),
  ]
  return { done: index, failure: { index, message } }
}
