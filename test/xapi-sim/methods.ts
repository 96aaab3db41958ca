// The messages this simulator implements beyond the generic class methods: sessions,
// events, VM/VIF lifecycle, host enable/disable and call_plugin, PBD plug/unplug, tasks
// and messages. Arity counts include the session parameter, as xapi's own check does.

import { setTimeout as sleep } from 'node:timers/promises'
import type { Api, CallContext } from './api.ts'
import { XapiFailure } from './errors.ts'
import type { EventService } from './events.ts'
import type { FaultController } from './faults.ts'
import type { Lifecycle } from './lifecycle.ts'
import { registerHostState } from './host-state.ts'
import { runPlugin } from './plugin-runner.ts'
import { messageRecord, taskRecord } from './records.ts'
import type { SessionStore } from './sessions.ts'
import type { Storage } from './storage.ts'
import { classFromName, type ObjectStore } from './store.ts'
import type { Timeline } from './timeline.ts'
import type { HostRuntime } from './topology.ts'

export interface MethodDeps {
  api: Api
  store: ObjectStore
  sessions: SessionStore
  events: EventService
  lifecycle: Lifecycle
  storage: Storage
  faults: FaultController
  timeline: Timeline
  hosts: Map<string, HostRuntime>
  /** Aborted when the simulator stops: ends hung plugins and running plugin processes. */
  stopSignal: () => AbortSignal
}

const str = (v: unknown) => String(v)

export function registerMethods(d: MethodDeps): void {
  const { api, store, sessions, events, lifecycle, storage, faults, timeline } = d

  api.register(
    'session.login_with_password',
    [2, 3, 4],
    (ctx, [user, password, , originator]) =>
      sessions.login(str(user), str(password ?? ''), ctx.via, str(originator ?? '')),
    { session: false },
  )
  api.register('session.logout', 1, ctx => sessions.logout(ctx.session!.ref))
  api.register('session.get_this_host', 2, () => store.get('pool', store.refs('pool')[0]!).master)
  api.register('system.listMethods', 0, () => api.listMethods(), { session: false })

  api.register('event.from', 4, (ctx, [classes, token, timeout]) => events.from(classes, token, timeout, ctx.signal))
  api.register('event.inject', 3, (_ctx, [cls, ref]) => {
    const klass = classFromName(str(cls))
    if (!klass) throw new XapiFailure('HANDLE_INVALID', [str(cls), str(ref)])
    return events.inject(klass, str(ref))
  })
  api.register('event.get_current_id', 1, () => store.generation)

  const vm = (name: string, arity: number, fn: (ctx: CallContext, args: unknown[]) => Promise<void>) =>
    api.register(`VM.${name}`, arity, fn, { async: true })
  // xapi sleeps the VM's start_delay inside VM.start, once the guest runs; VM.start_on
  // sleeps it twice (xapi_vm.ml start, and again in message_forwarding.ml start_on).
  const startDelay = (ref: unknown) => sleep(Number(store.get('VM', str(ref)).start_delay ?? 0) * 1000)
  vm('start', 4, async (_c, [ref]) => {
    await lifecycle.start(str(ref))
    await startDelay(ref)
  })
  vm('start_on', 5, async (_c, [ref, host]) => {
    await lifecycle.start(str(ref), str(host))
    await startDelay(ref)
    await startDelay(ref)
  })
  vm('clean_shutdown', 2, (_c, [ref]) => lifecycle.shutdown(str(ref)))
  vm('hard_shutdown', 2, (_c, [ref]) => lifecycle.shutdown(str(ref)))
  vm('shutdown', 2, (_c, [ref]) => lifecycle.shutdown(str(ref)))
  vm('pool_migrate', 4, (_c, [ref, host]) => lifecycle.migrate(str(ref), str(host)))
  const reboot = async (_c: CallContext, [ref]: unknown[]) => {
    const host = store.get('VM', str(ref)).resident_on as string
    await lifecycle.shutdown(str(ref))
    await lifecycle.start(str(ref), host)
  }
  vm('clean_reboot', 2, reboot)
  vm('hard_reboot', 2, reboot)

  api.register('VIF.plug', 2, (_c, [ref]) => lifecycle.plugVif(str(ref)), { async: true })
  api.register('VIF.unplug', 2, (_c, [ref]) => lifecycle.unplugVif(str(ref)), { async: true })
  api.register('VIF.unplug_force', 2, (_c, [ref]) => lifecycle.unplugVif(str(ref)), { async: true })

  registerHostState(d)
  api.register(
    'host.call_plugin',
    5,
    async (ctx, [hostRef, plugin, fn, args]) => {
      const record = store.get('host', str(hostRef))
      const host = d.hosts.get(str(hostRef))!
      if (args === null || typeof args !== 'object' || Array.isArray(args))
        throw new XapiFailure('FIELD_TYPE_ERROR', ['args'])
      const flatArgs = Object.fromEntries(Object.entries(args).map(([k, v]) => [k, str(v)]))
      const call = { hostUuid: record.uuid as string, hostName: host.name, plugin: str(plugin), fn: str(fn) }
      // xapi has no timeout and does not stop a plugin whose caller went away: only a
      // simulator stop ends a hung call.
      await faults.applyPluginFault(call, d.stopSignal())
      const started = timeline.record('plugin.started', {
        host: host.uuid,
        detail: { plugin: call.plugin, fn: call.fn, args: flatArgs },
      })
      try {
        const result = await runPlugin(host, call.plugin, call.fn, flatArgs, ctx.session!.ref, d.stopSignal())
        timeline.record('plugin.finished', {
          host: host.uuid,
          detail: { plugin: call.plugin, fn: call.fn, ok: true, ms: Date.now() - started.at },
        })
        return result
      } catch (error) {
        const code = error instanceof XapiFailure ? error.code : String(error)
        timeline.record('plugin.finished', {
          host: host.uuid,
          detail: { plugin: call.plugin, fn: call.fn, ok: false, error: code },
        })
        throw error
      }
    },
    { async: true },
  )

  api.register('PBD.plug', 2, (_c, [ref]) => storage.plug(str(ref)), { async: true })
  api.register('PBD.unplug', 2, (_c, [ref]) => storage.unplug(str(ref)), { async: true })

  api.register('task.create', 3, (_c, [label, description]) =>
    store.create(
      'task',
      taskRecord({ name_label: str(label), name_description: str(description), resident_on: api.taskHost() }),
    ),
  )
  api.register('task.destroy', 2, (_c, [ref]) => store.destroy('task', str(ref)))
  api.register('task.cancel', 2, (_c, [ref]) => {
    const task = store.get('task', str(ref))
    if (task.status === 'pending')
      store.update('task', str(ref), { status: 'cancelled', finished: new Date(), allowed_operations: [] })
  })
  api.register('task.set_status', 3, (_c, [ref, status]) => store.update('task', str(ref), { status: str(status) }))
  api.register('task.set_progress', 3, (_c, [ref, progress]) =>
    store.update('task', str(ref), { progress: Number(progress) }),
  )

  api.register('message.create', 6, (_c, [name, priority, cls, objUuid, body]) => {
    // xapi_message.ml check_uuid: the object must exist in the class the message names.
    const klass = ['VM', 'Host', 'SR', 'Pool', 'VDI'].includes(str(cls)) ? classFromName(str(cls)) : undefined
    if (!klass || !store.byUuid(klass, str(objUuid))) throw new XapiFailure('UUID_INVALID', [str(cls), str(objUuid)])
    return store.create(
      'message',
      messageRecord({
        name: str(name),
        priority: Number(priority),
        cls: str(cls),
        obj_uuid: str(objUuid),
        body: str(body),
      }),
    )
  })
  api.register('message.destroy', 2, (_c, [ref]) => store.destroy('message', str(ref)))
}
