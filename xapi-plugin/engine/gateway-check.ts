// Does the new gateway answer? Asked with the system's ping (no raw sockets without
// privileges we do not want to depend on), after our fresh IPv6 addresses have left
// duplicate address detection: until then the kernel will not source traffic from them,
// and a check would fail for a reason that fixes itself a second later. The echo is bound to
// the bridge, so the gateway is asked before any default route points at it.

import { setTimeout as sleep } from 'node:timers/promises'
import type { Family } from '../../shared/addresses.ts'
import { readLink } from '../kernel/ip.ts'
import { pingOnce } from '../kernel/ping.ts'
import type { GatewayCheck } from '../../shared/results.ts'

async function waitForDad(bridge: string, family: Family, deadline: number): Promise<string | undefined> {
  const kernelFamily = family === 4 ? 'inet' : 'inet6'
  for (;;) {
    const link = await readLink(bridge)
    const ours = link?.addr_info?.filter(a => a.family === kernelFamily && a.scope !== 'link') ?? []
    const failed = ours.find(a => a.dadfailed)
    if (failed) return `${failed.local} failed duplicate address detection: another host on the network uses it`
    if (!ours.some(a => a.tentative)) return undefined
    if (Date.now() >= deadline)
      return 'addresses still tentative (duplicate address detection) when the check window closed'
    await sleep(100)
  }
}

export async function checkGateway(
  bridge: string,
  family: Family,
  gateway: string,
  seconds: number,
): Promise<GatewayCheck> {
  const started = Date.now()
  const deadline = started + seconds * 1000
  if (family === 6) {
    const dadProblem = await waitForDad(bridge, family, deadline)
    if (dadProblem) return { reachable: false, attempts: 0, elapsedMs: Date.now() - started, reason: dadProblem }
  }
  let attempts = 0
  let lastError = ''
  do {
    attempts++
    const attemptStarted = Date.now()
    const answer = await pingOnce(gateway, bridge)
    if (answer.ok) return { reachable: true, attempts, elapsedMs: Date.now() - started }
    lastError = answer.error
    // ping fails at once (no route, no neighbour yet) as well as after its 1 s wait.
    if (Date.now() - attemptStarted < 200) await sleep(200)
  } while (Date.now() < deadline)
  return {
    reachable: false,
    attempts,
    elapsedMs: Date.now() - started,
    reason: `no answer from ${gateway} within ${seconds} s${lastError ? ` (${lastError})` : ''}`,
  }
}
