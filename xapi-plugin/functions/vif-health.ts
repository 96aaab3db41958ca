// The firewall VIFs bound on this host, checked for what makes them drop or corrupt
// dom0's traffic (shared/vif-health.ts). Read from the local xapi; status reports it, and
// says why when xapi cannot be asked (status itself must work without xapi).

import type { FirewallVifHealth } from '../../shared/results.ts'
import { type VifFacts, vifProblems } from '../../shared/vif-health.ts'
import { thisHost, withLocalXapi } from '../xapi/local-xapi.ts'
import { readPoolBindings } from '../xapi/pool-bindings.ts'
import type { CallContext } from './context.ts'
import { boundVifsHere } from './reconcile.ts'

export async function firewallVifHealth(
  ctx: CallContext,
): Promise<{ firewallVifs: FirewallVifHealth[]; firewallVifsProblem?: string }> {
  try {
    return await withLocalXapi(ctx.env.root, ctx.session, async xapi => {
      const pool = await readPoolBindings(xapi)
      if (!pool) return { firewallVifs: [] }
      const host = await thisHost(ctx.env.root, xapi)
      const health: FirewallVifHealth[] = []
      for (const bound of await boundVifsHere(xapi, host.ref, pool)) {
        const vif = await xapi.call<VifFacts & { network: string; device: string }>('VIF.get_record', bound.vifRef)
        const networkDefault = await xapi.call<string>('network.get_default_locking_mode', vif.network)
        const gateways = bound.binding.gateways.map(g => g.address)
        health.push({
          vif: vif.uuid,
          vm: bound.binding.vm,
          device: vif.device,
          bridge: bound.bridge,
          problems: vifProblems(vif, networkDefault, gateways),
        })
      }
      return { firewallVifs: health }
    })
  } catch (error) {
    return { firewallVifs: [], firewallVifsProblem: `the local xapi could not be asked: ${(error as Error).message}` }
  }
}
