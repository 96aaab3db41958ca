// Open vSwitch inside a test namespace, as XCP-ng's dom0 runs it (its default network
// backend), without the kernel module: the userspace datapath (`datapath_type=netdev`),
// whose bridge interface is a tap device. Every instance has its own database, sockets,
// pid files and logs in a run directory named after the owning process
// (`vib-ovs-<pid>-…`), which its daemons' command lines carry: a later run recognises the
// daemons of a dead owner by it. They should never outlive their owner anyway: they are
// started with SIGKILL as their parent-death signal, so they die with the test process
// even when it is killed.

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa, type ResultPromise } from 'execa'
import { isAlive } from './netns.ts'

export const OVS_DIR_PREFIX = 'vib-ovs-'
const OWNER_PATTERN = new RegExp(`/${OVS_DIR_PREFIX}(\\d+)-`)
const SEARCH_PATH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']
const SCHEMAS = ['/usr/share/openvswitch/vswitch.ovsschema', '/usr/local/share/openvswitch/vswitch.ovsschema']
const START_TIMEOUT_MS = 10_000

function locate(candidates: string[], what: string): string {
  const found = candidates.find(path => existsSync(path))
  if (!found)
    throw new Error(`Open vSwitch is missing (${what} not found; apt-get install openvswitch-switch, as .ci/run does)`)
  return found
}

const binary = (name: string) =>
  locate(
    SEARCH_PATH.map(dir => join(dir, name)),
    name,
  )

export interface Ovs {
  /** The namespace its daemons run in (where its bridges' tap devices appear). */
  readonly ns: string
  readonly dir: string
  /** `unix:<dir>/db.sock`, for `ovs-vsctl --db=`. */
  readonly db: string
  /** `ovs-vsctl` on this instance's database; waits for ovs-vswitchd to apply the change. */
  vsctl(...args: string[]): Promise<string>
  /** Stops both daemons (SIGTERM, then SIGKILL) and removes the run directory. Idempotent. */
  stop(): Promise<void>
}

async function waitForSocket(path: string, daemon: ResultPromise, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  let exited = false
  void daemon.finally(() => (exited = true))
  while (!existsSync(path)) {
    if (exited || Date.now() > deadline) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
      throw new Error(`${daemon.spawnargs.join(' ')} did not create ${path}${exited ? ' (it exited)' : ''}\n${log}`)
    }
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** `ip netns exec NS setpriv --pdeathsig KILL <daemon> …`: the daemon dies with this process. */
function spawnDaemon(ns: string, dir: string, name: string, args: string[]): ResultPromise {
  const env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir }
  const argv = ['netns', 'exec', ns, binary('setpriv'), '--pdeathsig', 'KILL', binary(name), ...args]
  argv.push(
    `--pidfile=${join(dir, `${name}.pid`)}`,
    `--unixctl=${join(dir, `${name}.ctl`)}`,
    `--log-file=${join(dir, `${name}.log`)}`,
    '--no-chdir',
  )
  return execa('ip', argv, { env, stdio: 'ignore', reject: false })
}

async function stopDaemon(daemon: ResultPromise): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return
  daemon.kill('SIGTERM')
  const timer = setTimeout(() => daemon.kill('SIGKILL'), 5000)
  await daemon
  clearTimeout(timer)
}

export async function startOvs(ns: string): Promise<Ovs> {
  const dir = mkdtempSync(join(tmpdir(), `${OVS_DIR_PREFIX}${process.pid}-`))
  const db = join(dir, 'db.sock')
  const daemons: ResultPromise[] = []
  const vsctl = async (...args: string[]) => {
    const result = await execa(binary('ovs-vsctl'), [`--db=unix:${db}`, '--timeout=10', ...args], {
      reject: false,
      stdin: 'ignore',
    })
    if (result.exitCode !== 0) throw new Error(`ovs-vsctl ${args.join(' ')} (in ${ns}): ${result.stderr.trim()}`)
    return result.stdout
  }
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    for (const daemon of daemons.reverse()) await stopDaemon(daemon)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const created = await execa(
      binary('ovsdb-tool'),
      ['create', join(dir, 'conf.db'), locate(SCHEMAS, 'vswitch.ovsschema')],
      { reject: false },
    )
    if (created.exitCode !== 0) throw new Error(`ovsdb-tool create: ${created.stderr}`)
    daemons.push(spawnDaemon(ns, dir, 'ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${db}`]))
    await waitForSocket(db, daemons[0]!, join(dir, 'ovsdb-server.log'))
    await vsctl('--no-wait', 'init')
    // Without it, the userspace datapath reads a veth's TCP segments through a packet
    // socket with their checksums still to be filled in (veths offload them) and forwards
    // them so: pings cross, TCP does not. With it, the checksum state travels along.
    await vsctl('--no-wait', 'set', 'Open_vSwitch', '.', 'other_config:userspace-tso-enable=true')
    daemons.push(spawnDaemon(ns, dir, 'ovs-vswitchd', [`unix:${db}`]))
    await waitForSocket(join(dir, 'ovs-vswitchd.ctl'), daemons[1]!, join(dir, 'ovs-vswitchd.log'))
    return { ns, dir, db: `unix:${db}`, vsctl, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

export interface OvsProcess {
  pid: number
  owner: number
  command: string
}

/** Processes whose command line names an Open vSwitch run directory of ours, with its owner. */
export function listOvsProcesses(): OvsProcess[] {
  const found: OvsProcess[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let command: string
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
    } catch {
      continue
    }
    const owner = OWNER_PATTERN.exec(command)?.[1]
    if (owner && /\bovs(db-server|-vswitchd)\b/.test(command))
      found.push({ pid: Number(entry), owner: Number(owner), command })
  }
  return found
}

/** Kills the daemons of owners that are gone (their run directories go with the temp dir sweep). */
export function sweepDeadOvs(): string[] {
  const swept: string[] = []
  for (const daemon of listOvsProcesses().filter(p => !isAlive(p.owner))) {
    try {
      process.kill(daemon.pid, 'SIGKILL')
      swept.push(`${daemon.command.split(' ')[0]}[${daemon.pid}]`)
    } catch {
      // already gone
    }
  }
  return swept
}
