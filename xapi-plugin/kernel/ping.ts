// One ICMP echo with the system's ping: no raw sockets of our own.

import { type Family, familyOf } from '../../shared/addresses.ts'
import { onPath } from '../runtime/executables.ts'
import { run } from '../runtime/run.ts'

/** CentOS 7's ping speaks IPv4 only and ships ping6; newer iputils take -6. */
function pingCommand(family: Family, address: string, iface?: string): [string, string[]] {
  const common = ['-n', '-c', '1', '-W', '1', ...(iface ? ['-I', iface] : []), address]
  if (family === 4) return ['ping', common]
  return onPath('ping6') ? ['ping6', common] : ['ping', ['-6', ...common]]
}

/**
 * Waits up to one second for an answer; the error text is ping's own. With `iface`, the
 * echo is bound to that interface (SO_BINDTODEVICE): it leaves from the address we have
 * there and never follows the default route.
 */
export async function pingOnce(address: string, iface?: string): Promise<{ ok: boolean; error: string }> {
  const [command, args] = pingCommand(familyOf(address), address, iface)
  const result = await run(command, args, { timeoutMs: 3000 })
  if (result.exitCode === 0) return { ok: true, error: '' }
  // ping exits 1 when no reply came; other codes carry a reason on stderr.
  if (result.exitCode === 1) return { ok: false, error: `no reply from ${address}` }
  return {
    ok: false,
    error: (result.stderr || result.stdout || result.error || '').trim() || `ping exited ${result.exitCode}`,
  }
}
