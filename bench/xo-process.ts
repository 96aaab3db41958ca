// The Xen Orchestra process of measurement 1 (started by xo-process-client.ts): the xo-server
// facade connected to the simulator's URL with the unmodified `xen-api` client, and the XO
// plugin loaded through it, exactly as the e2e harness does in its own process. Answers
// each request from its parent once done; ends with its parent.

import factory from '../xo-plugin/index.ts'
import type { VifIpBinderPlugin } from '../xo-plugin/plugin.ts'
import {
  PluginHost,
  type PluginFactory,
  XO_SERVER_DEBOUNCE_MS,
  XoFacade,
  withoutEventCutWarning,
} from '../test/xo-facade/facade.ts'
import type { XoAnswer, XoRequest, XoStart } from './xo-process-client.ts'

const xo = new XoFacade()
let plugin: PluginHost<VifIpBinderPlugin> | undefined

function started(): PluginHost<VifIpBinderPlugin> {
  if (!plugin) throw new Error('not started')
  return plugin
}

async function start({ server, hostUrls, bindings }: XoStart): Promise<void> {
  // xo-server's event pacing, not the tests' quicker one: what an admin's XO reacts with.
  await xo.connectServer('firewall-pool', { ...server, debounceMs: XO_SERVER_DEBOUNCE_MS })
  plugin = new PluginHost<VifIpBinderPlugin>(factory as unknown as PluginFactory, xo, 'vif-ip-binder', { hostUrls })
  await plugin.configure({ bindings })
}

async function close(): Promise<void> {
  await plugin?.unload().catch(() => undefined)
  await withoutEventCutWarning(() => xo.disconnectAll().catch(() => undefined))
}

async function handle(request: XoRequest): Promise<void> {
  switch (request.op) {
    case 'start':
      return start(request.start)
    case 'load':
      return started().load()
    case 'unload':
      return started().unload()
    case 'whenIdle':
      return started().instance.whenIdle()
    case 'close':
      return close()
  }
}

process.on('message', (message: XoRequest & { id: number }) => {
  const answer = (fields: Omit<XoAnswer, 'id'>) => process.send!({ id: message.id, ...fields })
  handle(message).then(
    () => {
      answer({})
      if (message.op === 'close') process.disconnect()
    },
    (error: Error) => answer({ error: error.stack ?? String(error) }),
  )
})
// The parent went away (or closed us): nothing left to serve.
process.on('disconnect', () => process.exit(0))
