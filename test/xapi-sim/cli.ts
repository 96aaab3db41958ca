// npm run sim -- --scenario firewall-pool [--port N] [--plugin PATH | --no-plugin] [--bridges linux|ovs]
//
// Builds the host plugin if dist is missing, starts the simulator, installs the plugin in
// every simulated host root, prints ONE JSON line on stdout (url, credentials, hosts and
// VMs with their namespaces and roots; with `--bridges ovs`, the hosts' bridges are Open
// vSwitch ones and each host's database is listed), then runs until SIGTERM or SIGINT, when it removes
// everything it created. Everything else goes to stderr. (`npm run -s sim` keeps npm's own
// banner off stdout.)

import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { BRIDGE_KINDS, type BridgeKind, parseBridgeKind } from '../helpers/bridges.ts'
import { BUILT_HOST_PLUGIN, REPO_ROOT, SCENARIOS, type Simulator, startSimulator } from './simulator.ts'

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'firewall-pool' },
    port: { type: 'string', default: '0' },
    plugin: { type: 'string' },
    'no-plugin': { type: 'boolean', default: false },
    bridges: { type: 'string', default: 'linux' },
    help: { type: 'boolean', default: false },
  },
})

if (values.help) {
  process.stderr.write(
    `usage: npm run -s sim -- [--scenario ${Object.keys(SCENARIOS).join('|')}] [--port N] [--plugin PATH | --no-plugin] [--bridges ${BRIDGE_KINDS.join('|')}]\n`,
  )
  process.exit(0)
}

const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`bad --port ${values.port}\n`)
  process.exit(2)
}

let bridges: BridgeKind
try {
  bridges = parseBridgeKind(values.bridges!)
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`)
  process.exit(2)
}

let hostPlugin: string | boolean = false
if (!values['no-plugin']) {
  if (values.plugin) hostPlugin = values.plugin
  else {
    if (!existsSync(BUILT_HOST_PLUGIN)) {
      process.stderr.write('dist/xapi-plugin/vif-ip-binder is missing: building it\n')
      const build = await execa(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], {
        cwd: REPO_ROOT,
        reject: false,
        stdin: 'ignore',
      })
      process.stderr.write(build.stdout + build.stderr)
      if (build.exitCode !== 0) process.exit(1)
    }
    hostPlugin = true
  }
}

let sim: Simulator | undefined
let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  process.stderr.write(`${signal}: stopping the simulator\n`)
  // Still booting: the end of startup sees `stopping` and cleans up.
  if (!sim) return
  await sim.stop()
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
// `npm run sim` puts npm and sh between the caller and us; a SIGTERM sent to npm's pid
// kills them without reaching us. Being orphaned means the caller wants us gone.
const parentPid = process.ppid
setInterval(() => {
  if (process.ppid !== parentPid) void shutdown('parent exited')
}, 300).unref()

try {
  sim = await startSimulator({ scenario: values.scenario!, port, hostPlugin, bridges })
} catch (error) {
  process.stderr.write(`cannot start the simulator: ${(error as Error).stack ?? error}\n`)
  process.exit(1)
}
if (stopping) {
  await sim.stop()
  process.exit(0)
} else process.stdout.write(`${JSON.stringify(sim.describe())}\n`)
