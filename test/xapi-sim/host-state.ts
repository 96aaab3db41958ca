// host.enable, host.disable and host.evacuate with xapi's own rules (xapi_host.ml):
// disable with auto_enable=false (xapi 25.31+) persists in local.db until host.enable;
// enable refuses a host with pending mandatory guidances or one disabled until reboot,
// and clears a persistent disable. Evacuation migrates every guest to another enabled host.

import type { Api } from './api.ts'
import { XapiFailure } from './errors.ts'
import type { Lifecycle } from './lifecycle.ts'
import { getLocalDb, putLocalDb } from './local-db.ts'
import type { ObjectStore } from './store.ts'
import type { Timeline } from './timeline.ts'
import type { HostRuntime } from './topology.ts'

export interface HostStateDeps {
  api: Api
  store: ObjectStore
  lifecycle: Lifecycle
  timeline: Timeline
  hosts: Map<string, HostRuntime>
}

export function registerHostState({ api, store, lifecycle, timeline, hosts }: HostStateDeps): void {
  const root = (ref: string) => {
    const runtime = hosts.get(ref)
    if (!runtime) throw new XapiFailure('HANDLE_INVALID', ['host', ref])
    return runtime.root
  }
  const setEnabled = (ref: string, enabled: boolean) => {
    const host = store.get('host', ref)
    if (host.enabled !== enabled) store.update('host', ref, { enabled })
    timeline.record(enabled ? 'host.enabled' : 'host.disabled', { host: host.uuid as string })
  }

  const enable = (ref: string) => {
    const host = store.get('host', ref)
    if (host.enabled === true) return
    if (((host.pending_guidances as string[] | undefined) ?? []).length) {
      throw new XapiFailure('HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY', [ref])
    }
    if (getLocalDb(root(ref), 'host_disabled_until_reboot') === 'true') {
      throw new XapiFailure('HOST_DISABLED_UNTIL_REBOOT', [ref])
    }
    putLocalDb(root(ref), 'host_auto_enable', 'true')
    setEnabled(ref, true)
  }
  const disable = (ref: string, autoEnable: unknown) => {
    if (store.get('host', ref).enabled !== true) return
    setEnabled(ref, false)
    if (autoEnable === false) putLocalDb(root(ref), 'host_auto_enable', 'false')
  }
  const evacuate = async (ref: string) => {
    const guests = (store.get('host', ref).resident_VMs as string[]).filter(
      vm => store.get('VM', vm).is_control_domain !== true,
    )
    for (const vm of guests) {
      const target = store.where('host', (h, hostRef) => h.enabled === true && hostRef !== ref)[0]
      if (!target) throw new XapiFailure('HOST_NOT_ENOUGH_FREE_MEMORY', [vm])
      await lifecycle.migrate(vm, target)
    }
  }

  api.register('host.enable', 2, (_c, [ref]) => enable(String(ref)), { async: true })
  api.register('host.disable', [2, 3], (_c, [ref, autoEnable]) => disable(String(ref), autoEnable), { async: true })
  api.register('host.evacuate', [2, 3, 4], (_c, [ref]) => evacuate(String(ref)), { async: true })
}
