// Where the host plugin reads and writes. In production everything is under `/`; the XAPI
// simulator (and tests) run several "hosts" on one machine and point each at its own root
// with VIF_IP_BINDER_ROOT. Nothing else about the plugin changes between the two.

import { join } from 'node:path'

export interface Environment {
  root: string
  stateDir: string
  lockPath: string
  /** The alert state's own lock: alerts are raised by callers that may hold the host's lock. */
  alertsLockPath: string
  /** The hook index's writers take their turns here (engine/index-order.ts). */
  indexLockPath: string
  indexTicketsPath: string
  syslogSocket: string
  /** For detached work when dom0 has no syslog: nobody reads its stderr. */
  logFile: string
  /** How long a call waits for another one to finish before answering BUSY. */
  lockWaitSeconds: number
  /** Read iproute's text output even where `ip -j` works (to test the reader dom0 may need). */
  ipTextOutput: boolean
  /** How long the host's own paths (boot, hook) keep retrying a silent gateway; unset: their default. */
  gatewayWaitSeconds?: number
}

export function environmentFrom(env: NodeJS.ProcessEnv): Environment {
  const root = env.VIF_IP_BINDER_ROOT || '/'
  const lockWait = Number(env.VIF_IP_BINDER_LOCK_WAIT_SECONDS)
  const gatewayWait = Number(env.VIF_IP_BINDER_GATEWAY_WAIT_SECONDS)
  return {
    root,
    stateDir: env.VIF_IP_BINDER_STATE_DIR || join(root, 'var/lib/vif-ip-binder'),
    lockPath: join(root, 'var/run/vif-ip-binder.lock'),
    alertsLockPath: join(root, 'var/run/vif-ip-binder-alerts.lock'),
    indexLockPath: join(root, 'var/run/vif-ip-binder-index.lock'),
    indexTicketsPath: join(root, 'var/run/vif-ip-binder-index.tickets'),
    syslogSocket: join(root, 'dev/log'),
    logFile: join(root, 'var/log/vif-ip-binder.log'),
    lockWaitSeconds: Number.isFinite(lockWait) && lockWait > 0 ? lockWait : 30,
    ipTextOutput: env.VIF_IP_BINDER_IP_OUTPUT === 'text',
    ...(env.VIF_IP_BINDER_GATEWAY_WAIT_SECONDS && gatewayWait >= 0 ? { gatewayWaitSeconds: gatewayWait } : {}),
  }
}
