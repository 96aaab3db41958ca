// A simulated pool with no Xen Orchestra: the host plugin installed on both hosts, the
// bindings in pool.other_config exactly as the XO plugin writes them, and boot mode run the
// way its systemd unit runs it.

import assert from 'node:assert/strict'
import { join } from 'node:path'
import { execa } from 'execa'
import { POOL_CONFIG_KEY, encodePoolConfig, parseBinding, toPoolBinding } from '../../shared/binding.ts'
import { XAPI_PATH } from '../helpers/host-plugin.ts'
import { FIREWALL_POOL as F, firewallPool } from '../xapi-sim/scenarios/firewall-pool.ts'
import { type Simulator, startSimulator } from '../xapi-sim/simulator.ts'
import { login, rpc } from '../xapi-sim/test-helpers.ts'
import { installHostPlugin } from './standalone-hosts.ts'

export interface PoolSettings {
  rescue?: boolean
  srs?: boolean
  /** SRs (by name) the binding re-attaches; default the scenario's NFS SR. */
  srNames?: string[]
  autoStart?: boolean
  gatewayCheckSeconds?: number
}

/** What the XO plugin would write: the firewall binding, its SR, and the rescue switch. */
export async function writePoolBindings(sim: Simulator, session: string, settings: PoolSettings): Promise<void> {
  const network = sim.record('network', F.privateNetwork).uuid as string
  const srs = (settings.srNames ?? [F.srName]).map(name => ({ sr: sim.record('SR', name).uuid as string }))
  const binding = parseBinding(
    {
      vm: sim.vm(F.firewallVm).uuid,
      network,
      addresses: [`${F.hostAddresses[0]}/24`],
      gateways: [F.firewallPrivateAddress],
      managementAddress: F.hostAddresses[0],
      srs: settings.srs === false ? [] : srs,
    },
    0,
  )
  const text = encodePoolConfig({
    version: 1,
    gatewayCheckSeconds: settings.gatewayCheckSeconds ?? 10,
    rescue: settings.rescue ?? false,
    ...(settings.autoStart === false ? { autoStart: false } : {}),
    bindings: [toPoolBinding(binding, sim.vm(F.firewallVm).uuid, network)],
  })
  await replacePoolDocument(sim, session, text)
}

/** The pool document replaced by `text`, as the XO plugin writes it. */
export async function replacePoolDocument(sim: Simulator, session: string, text: string): Promise<void> {
  const pool = (await rpc(sim, 'pool.get_all', session))[0] as string
  await rpc(sim, 'pool.remove_from_other_config', session, pool, POOL_CONFIG_KEY)
  await rpc(sim, 'pool.add_to_other_config', session, pool, POOL_CONFIG_KEY, text)
}

/** A simulated pool with the host plugin installed and the bindings the XO plugin would write. */
export async function autonomousPool(settings: PoolSettings, scenario = firewallPool()) {
  const sim = await startSimulator({ scenario, hostPlugin: false })
  const session = await login(sim)
  await installHostPlugin(sim)
  await writePoolBindings(sim, session, settings)
  return { sim, session }
}

export function pbdAttached(sim: Simulator, host: string): boolean {
  const pbd = sim.pbds(F.srName)[host]!
  return sim.record('PBD', pbd).currently_attached === true
}

/** Boot mode as the systemd unit runs it, inside a host's namespace. */
export async function bootHost(sim: Simulator, host: string, env: Record<string, string> = {}) {
  const { netns, root } = sim.host(host)
  const installed = join(root, 'opt/vif-ip-binder/bin/vif-ip-binder')
  const run = await execa(
    'ip',
    [
      'netns',
      'exec',
      netns,
      'env',
      '-i',
      `PATH=${XAPI_PATH}`,
      `VIF_IP_BINDER_ROOT=${root}`,
      ...Object.entries(env).map(([key, value]) => `${key}=${value}`),
      installed,
      'boot',
      'wait=10',
    ],
    {
      reject: false,
      stdin: 'ignore',
    },
  )
  assert.equal(run.exitCode, 0, run.stderr)
  return JSON.parse(run.stdout) as {
    rescue: {
      acted: boolean
      reason: string
      steps: { name: string; role: string; outcome: string; reason?: string }[]
    }
    reconcile: { applied: { bridge: string }[] }
  }
}

/** The firewall pool booted disabled, with three auto-start VMs besides the firewall. */
export async function disabledPool(rescue: boolean) {
  const scenario = firewallPool({ hostsEnabled: false })
  ;(scenario.vms ??= []).push(
    { name: 'app', affinity: 'host1', other_config: { auto_poweron: 'true' } },
    { name: 'db', affinity: 'host1', other_config: { auto_poweron: 'true' } },
    { name: 'on-host2', affinity: 'host2', other_config: { auto_poweron: 'true' } },
  )
  const sim = await startSimulator({ scenario, hostPlugin: false })
  const session = await login(sim)
  await installHostPlugin(sim)
  await writePoolBindings(sim, session, { rescue, srs: false })
  const pool = (await rpc(sim, 'pool.get_all', session))[0] as string
  await rpc(sim, 'pool.add_to_other_config', session, pool, 'auto_poweron', 'true')
  // xapi's own auto-start ignores `order`; names sort the other way round on purpose.
  await rpc(sim, 'VM.set_order', session, sim.vm('db').ref, 1)
  await rpc(sim, 'VM.set_start_delay', session, sim.vm('db').ref, 1)
  await rpc(sim, 'VM.set_order', session, sim.vm('app').ref, 2)
  return { sim, session }
}
