// Runs a storage probe once: a TCP connection that opens, or an echo that comes back.

import { connect } from 'node:net'
import type { Probe } from '../../shared/probes.ts'
import { pingOnce } from './ping.ts'

export const TCP_PROBE_TIMEOUT_MS = 1000

function tcpOpens(host: string, port: number): Promise<{ ok: boolean; error: string }> {
  return new Promise(resolve => {
    const socket = connect({ host, port, timeout: TCP_PROBE_TIMEOUT_MS })
    const done = (ok: boolean, error = '') => {
      socket.destroy()
      resolve({ ok, error })
    }
    socket.once('connect', () => done(true))
    socket.once('timeout', () => done(false, `no answer within ${TCP_PROBE_TIMEOUT_MS} ms`))
    socket.once('error', error => done(false, error.message))
  })
}

export function probeOnce(probe: Probe): Promise<{ ok: boolean; error: string }> {
  return probe.kind === 'icmp' ? pingOnce(probe.address) : tcpOpens(probe.host, probe.port)
}

/** One round over an SR's servers (an iSCSI target list): answered when any of them answers. */
export async function probeAny(probes: Probe[]): Promise<{ ok: boolean; error: string }> {
  const answers = await Promise.all(probes.map(probeOnce))
  if (answers.some(a => a.ok)) return { ok: true, error: '' }
  return { ok: false, error: answers.map(a => a.error).join('; ') }
}
