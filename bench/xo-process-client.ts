// Measurement 1's Xen Orchestra in a process of its own (bench/xo-process.ts), as xo-server
// runs beside xapi (usually on another machine), never in xapi's process: the simulator,
// the VM start's `ip` work and the host plugin's forkexecd stay here, and the XO plugin's
// reaction to the event stream does not wait for this event loop, nor this one for it.
// Requests go over Node's IPC channel, one answer each.

import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BindingConfig } from '../shared/binding.ts'
import type { ServerOptions } from '../test/xo-facade/facade.ts'

/** What the XO process needs to stand as Xen Orchestra for one pool. */
export interface XoStart {
  server: ServerOptions
  /** Each host's address → its own xapi endpoint (the plugin's hostUrls, as in the e2e harness). */
  hostUrls: Record<string, string>
  bindings: BindingConfig[]
}

export type XoRequest = { op: 'start'; start: XoStart } | { op: 'load' | 'unload' | 'whenIdle' | 'close' }

export interface XoAnswer {
  id: number
  error?: string
}

export interface XoProcess {
  /** The XO plugin loaded, as `plugin.load` (its configuration was given at start). */
  load(): Promise<void>
  unload(): Promise<void>
  /** The plugin's whenIdle: every pool attached, every host call settled. */
  whenIdle(): Promise<void>
  /** Unloads, disconnects and ends the process. */
  close(): Promise<void>
}

const SCRIPT = fileURLToPath(new URL('./xo-process.ts', import.meta.url))

function exited(child: ChildProcess): Promise<void> {
  return new Promise(resolve => (child.exitCode !== null || child.signalCode ? resolve() : child.once('exit', resolve)))
}

export async function startXoProcess(start: XoStart): Promise<XoProcess> {
  const child = fork(SCRIPT, [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
  let nextId = 1
  child.on('message', ({ id, error }: XoAnswer) => {
    const waiter = waiting.get(id)
    waiting.delete(id)
    if (error === undefined) waiter?.resolve()
    else waiter?.reject(new Error(`XO process: ${error}`))
  })
  child.once('exit', (code, signal) => {
    for (const { reject } of waiting.values()) reject(new Error(`XO process exited (${signal ?? code})`))
    waiting.clear()
  })
  const request = (message: XoRequest) =>
    new Promise<void>((resolve, reject) => {
      const id = nextId++
      waiting.set(id, { resolve, reject })
      child.send({ id, ...message })
    })
  const close = async () => {
    if (child.connected) await request({ op: 'close' }).catch(() => undefined)
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited(child)
    clearTimeout(timer)
  }
  try {
    await request({ op: 'start', start })
  } catch (error) {
    await close()
    throw error
  }
  return {
    load: () => request({ op: 'load' }),
    unload: () => request({ op: 'unload' }),
    whenIdle: () => request({ op: 'whenIdle' }),
    close,
  }
}
