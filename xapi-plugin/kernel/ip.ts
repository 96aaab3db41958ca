// The only door to the kernel's network state: `ip` (iproute2) run without a shell, with
// `-j` for everything we read. Every failure becomes COMMAND_FAILED naming the command.

import { existsSync } from 'node:fs'
import type { Family } from '../../shared/addresses.ts'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import { parseAddrText, parseRouteText } from './ip-text.ts'
import { run } from '../runtime/run.ts'
import type { DefaultRoute } from '../../shared/results.ts'

export interface IpAddress {
  family: 'inet' | 'inet6'
  local: string
  prefixlen: number
  scope?: string
  tentative?: boolean
  dadfailed?: boolean
}

export interface IpLink {
  ifname: string
  flags: string[]
  addr_info?: IpAddress[]
}

export interface IpRoute {
  dst: string
  gateway?: string
  dev?: string
  metric?: number
  protocol?: string
  scope?: string
  flags?: string[]
  /** Absent for the main table. */
  table?: string
  /** IPv6 routes only (the router preference). */
  pref?: string
}

export class CommandError extends BinderError {
  constructor(argv: string[], stderr: string) {
    super(ErrorCode.COMMAND_FAILED, `ip ${argv.join(' ')} failed: ${stderr.trim() || 'no message'}`, [
      `ip ${argv.join(' ')}`,
      stderr.trim(),
    ])
  }
}

/**
 * Whether an interface exists, asked of sysfs (per network namespace under `ip netns exec`):
 * the kernel's own answer, where ip's error text may be in the admin's language.
 */
export function linkExists(dev: string): boolean {
  return existsSync(`/sys/class/net/${dev}`)
}

export async function runIp(argv: string[]): Promise<string> {
  const result = await run('ip', argv)
  if (result.exitCode !== 0) throw new CommandError(argv, result.stderr || result.error || '')
  return result.stdout
}

// Whether to read text instead of `-j` output: learnt from ip itself, or forced (tests
// run the text reader on this machine's iproute, which does speak JSON).
let textOutput = false

export function readTextOutput(): void {
  textOutput = true
}

export const useTextOutput = readTextOutput

export function ipOutputIsText(): boolean {
  return textOutput
}

const JSON_UNKNOWN = /Option "-j(son)?" is unknown/i

/**
 * Runs a read-only `ip` command with `-j` and parses the JSON; if this ip does not know
 * `-j`, or ignores it for this object (prints text anyway), reads its text instead.
 */
async function readIp<T>(
  argv: string[],
  parseText: (text: string) => T[],
): Promise<{ items: T[] } | { stderr: string }> {
  if (!textOutput) {
    const result = await run('ip', ['-j', ...argv])
    const out = String(result.stdout).trim()
    if (result.exitCode === 0) {
      if (!out) return { items: [] }
      if (out.startsWith('[')) return { items: JSON.parse(out) as T[] }
      return { items: parseText(out) }
    }
    if (!JSON_UNKNOWN.test(result.stderr)) return { stderr: result.stderr || result.error || '' }
    textOutput = true
  }
  const result = await run('ip', argv)
  if (result.exitCode !== 0) return { stderr: result.stderr || result.error || '' }
  return { items: parseText(String(result.stdout)) }
}

export const familyFlag = (family: Family) => (family === 4 ? '-4' : '-6')

/** The interface with its addresses, or undefined when it does not exist. */
export async function readLink(dev: string): Promise<IpLink | undefined> {
  const argv = ['addr', 'show', 'dev', dev]
  const result = await readIp<IpLink>(argv, parseAddrText)
  if ('items' in result) return result.items[0]
  if (!linkExists(dev)) return undefined
  throw new CommandError(argv, result.stderr)
}

export async function readRoutes(family: Family): Promise<IpRoute[]> {
  const argv = [familyFlag(family), 'route', 'show', 'table', 'main']
  const result = await readIp<IpRoute>(argv, parseRouteText)
  if ('items' in result) return result.items
  throw new CommandError(argv, result.stderr)
}

/** What the kernel assigns when a route is added without `metric`. */
export const KERNEL_DEFAULT_METRIC: Record<Family, number> = { 4: 0, 6: 1024 }

/**
 * Every default route of a family, lowest metric (the one in use) first. A default route's
 * identity for `ip route replace` includes its metric: each metric is a separate slot.
 */
export function defaultRoutesOf(routes: IpRoute[], family: Family): DefaultRoute[] {
  return routes
    .filter(r => r.dst === 'default')
    .map(route => ({
      family,
      gateway: route.gateway,
      dev: route.dev,
      metric: route.metric ?? KERNEL_DEFAULT_METRIC[family],
      protocol: route.protocol,
      onlink: route.flags?.includes('onlink') || undefined,
    }))
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))
}

export function defaultRouteArgs(route: DefaultRoute): string[] {
  const args = [familyFlag(route.family), 'route', 'replace', 'default']
  if (route.gateway) args.push('via', route.gateway)
  if (route.dev) args.push('dev', route.dev)
  if (route.metric !== undefined) args.push('metric', String(route.metric))
  if (route.protocol && route.protocol !== 'boot') args.push('proto', route.protocol)
  if (route.onlink) args.push('onlink')
  return args
}

export function sameDefaultRoute(a: DefaultRoute | undefined, b: DefaultRoute | undefined): boolean {
  if (!a || !b) return false
  return a.family === b.family && a.gateway === b.gateway && a.dev === b.dev && a.metric === b.metric
}

export function describeDefaultRoute(route: DefaultRoute | undefined): string {
  if (!route) return 'none'
  return [
    'default',
    route.gateway && `via ${route.gateway}`,
    route.dev && `dev ${route.dev}`,
    route.metric !== undefined && `metric ${route.metric}`,
  ]
    .filter(Boolean)
    .join(' ')
}
