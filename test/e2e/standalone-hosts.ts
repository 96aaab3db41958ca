// Hosts with no Xen Orchestra: the simulated firewall pool with the host plugin installed on
// every host the way an admin does it (`install --root`, so hook and boot unit too), and
// the hosts' own log, which the hook's worker writes when dom0 has no syslog.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { HOST_PLUGIN, XAPI_PATH } from '../helpers/host-plugin.ts'
import type { ScenarioDefinition } from '../xapi-sim/scenario.ts'
import { FIREWALL_POOL as F, firewallPool } from '../xapi-sim/scenarios/firewall-pool.ts'
import { type Simulator, startSimulator } from '../xapi-sim/simulator.ts'
import { login, rpc } from '../xapi-sim/test-helpers.ts'
import { addresses } from './helpers.ts'

export async function installHostPlugin(sim: Simulator): Promise<void> {
  for (const name of ['host1', 'host2']) {
    const result = await execa(HOST_PLUGIN, ['install', '--root', sim.host(name).root], {
      env: { PATH: XAPI_PATH },
      extendEnv: false,
      reject: false,
    })
    assert.equal(result.exitCode, 0, result.stderr)
  }
}

/** The firewall pool (or `scenario`), started with the host plugin installed by hand on both hosts. */
export async function startStandalonePool(scenario: ScenarioDefinition = firewallPool()) {
  const sim = await startSimulator({ scenario, hostPlugin: false })
  const session = await login(sim)
  await installHostPlugin(sim)
  return { sim, session }
}

export function hostLog(sim: Simulator, host: string): string {
  try {
    return readFileSync(join(sim.host(host).root, 'var/log/vif-ip-binder.log'), 'utf8')
  } catch {
    return ''
  }
}

/** A host function called through xapi on a host (host1 unless named), its answer parsed. */
export async function callOnHost(
  sim: Simulator,
  session: string,
  fn: string,
  args: Record<string, string> = {},
  host = 'host1',
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<any> {
  return JSON.parse(
    (await rpc(sim, 'host.call_plugin', session, sim.host(host).ref, 'vif-ip-binder', fn, args)) as string,
  )
}

/** The pool document binding the firewall's private network to this host address. */
export const firewallDocument = (address: string): string =>
  JSON.stringify({
    version: 1,
    bindings: [
      {
        vm: F.firewallVm,
        network: F.privateNetwork,
        addresses: [`${address}/24`],
        gateways: [F.firewallPrivateAddress],
      },
    ],
  })

/** The addresses on the private bridge of a host (host1 unless named). */
export const onPrivateBridge = async (sim: Simulator, host = 'host1'): Promise<string[]> =>
  (await addresses(sim.host(host).netns))[F.privateBridge] ?? []
