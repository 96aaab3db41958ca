// Small kernel-side tools the simulator needs beyond test/helpers/netns.ts: the absolute
// path of `ip` (so processes started with a minimal PATH still find it), TCP listeners and
// connect probes inside a namespace (node processes started with `ip netns exec`). Bridges
// and their ports are test/helpers/bridges.ts's.

import { existsSync } from 'node:fs'
import { execa, type ResultPromise } from 'execa'
import { ip, ipJson } from '../helpers/netns.ts'

let ipPath: string | undefined

/** `ip` by absolute path: plugin and hook processes get PATH=/sbin:/usr/sbin:/bin:/usr/bin only. */
export function ipBinary(): string {
  if (ipPath) return ipPath
  for (const candidate of ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']) {
    if (existsSync(candidate)) return (ipPath = candidate)
  }
  return (ipPath = 'ip')
}

export async function sysctl(ns: string, key: string, value: string): Promise<void> {
  const r = await execa(ipBinary(), ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=${value}`], {
    reject: false,
    stdin: 'ignore',
  })
  if (r.exitCode !== 0) throw new Error(`sysctl ${key}=${value} in ${ns}: ${r.stderr}`)
}

// Kept as plain CommonJS strings run with `node -e`: these run inside other namespaces,
// where only a fresh process can be (Node cannot setns).
const LISTENER = `
const net = require('net');
const ports = process.argv.slice(1).map(Number);
let pending = ports.length;
for (const port of ports) {
  const server = net.createServer(s => { s.on('error', () => {}); s.end(); });
  server.on('error', e => { console.error(String(e)); process.exit(1); });
  server.listen(port, '0.0.0.0', () => { if (--pending === 0) console.log('ready'); });
}
process.on('SIGTERM', () => process.exit(0));
`

const PROBE = `
const [host, port, ms] = process.argv.slice(1);
const socket = require('net').connect({ host, port: Number(port) });
const timer = setTimeout(() => process.exit(2), Number(ms));
socket.on('connect', () => { clearTimeout(timer); socket.destroy(); process.exit(0); });
socket.on('error', e => { console.error(e.code || String(e)); process.exit(1); });
`

export interface TcpListener {
  ns: string
  ports: number[]
  stop(): Promise<void>
}

/** Accepts (and closes) TCP connections on the given ports inside a namespace. */
export async function startTcpListener(ns: string, ports: number[]): Promise<TcpListener> {
  const child: ResultPromise = execa(
    ipBinary(),
    ['netns', 'exec', ns, process.execPath, '-e', LISTENER, ...ports.map(String)],
    {
      reject: false,
      stdin: 'ignore',
      buffer: false,
    },
  )
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('ready')) resolve()
    })
    child.on('exit', code => reject(new Error(`listener in ${ns} exited with ${code}`)))
  })
  return {
    ns,
    ports,
    async stop() {
      child.kill('SIGTERM')
      await child.catch(() => undefined)
    },
  }
}

/** Whether `host:port` accepts a TCP connection from inside `ns` within `timeoutMs`. */
export async function probeTcp(
  ns: string,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ ok: boolean; reason: string }> {
  const r = await execa(
    ipBinary(),
    ['netns', 'exec', ns, process.execPath, '-e', PROBE, host, String(port), String(timeoutMs)],
    {
      reject: false,
      stdin: 'ignore',
      timeout: timeoutMs + 5000,
    },
  )
  if (r.exitCode === 0) return { ok: true, reason: 'connected' }
  return { ok: false, reason: r.exitCode === 2 ? 'timed out' : r.stderr.trim() || `exit ${r.exitCode}` }
}

/** Whether `address` answers one ping from inside `ns`. */
export async function pingFrom(ns: string, address: string): Promise<boolean> {
  const family = address.includes(':') ? '-6' : '-4'
  const r = await execa(ipBinary(), ['netns', 'exec', ns, 'ping', family, '-n', '-c', '1', '-W', '1', address], {
    reject: false,
    stdin: 'ignore',
    timeout: 5000,
  })
  return r.exitCode === 0
}

/** Processes still running inside a namespace (to kill before deleting it). */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await execa(ipBinary(), ['netns', 'pids', ns], { reject: false })
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter(n => Number.isInteger(n) && n > 0)
}

export { ip, ipJson }

/** `ip -n <ns> …` (no mount-namespace dance, so cheaper than `ip netns exec`). */
export async function ipIn(ns: string, ...args: string[]): Promise<string> {
  const r = await execa(ipBinary(), ['-n', ns, ...args], { reject: false, stdin: 'ignore' })
  if (r.exitCode !== 0) throw new Error(`ip -n ${ns} ${args.join(' ')}: ${r.stderr.trim()}`)
  return r.stdout
}

export function prefixLength(netmask: string): number {
  return netmask
    .split('.')
    .map(Number)
    .reduce((n, octet) => n + (octet >>> 0).toString(2).replace(/0/g, '').length, 0)
}
