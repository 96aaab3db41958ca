// Every way into the executable but the hook's quick answer (see main.ts), by its first words.

// Each mode loads what it needs when it runs (a dynamic import is a lazy initialisation in
// the bundle): a call from xapi never evaluates the hook, install or help code.

import { environmentFrom } from '../runtime/environment.ts'
import { createLogger } from '../runtime/log.ts'
import { call, write } from './call.ts'
import { type Outcome, encodeOutcome, errorDescriptionOf, parsePluginCall } from './protocol.ts'

async function xapiMode(xml: string): Promise<number> {
  let outcome: Outcome
  try {
    const { fn, session, args } = parsePluginCall(xml)
    outcome = await call(fn, args, session)
  } catch (error) {
    outcome = { ok: false, errorDescription: errorDescriptionOf('?', error) }
  }
  await write(process.stdout, encodeOutcome(outcome))
  return 0 // as XenAPIPlugin.py: failures travel in the response, not the exit code
}

/** `install|uninstall [--root DIR]`: files only, no xapi call; prints what it did. */
async function installMode([verb, ...rest]: string[]): Promise<number> {
  let root = '/'
  if (rest.length === 2 && rest[0] === '--root' && rest[1]) root = rest[1]
  else if (rest.length) {
    await write(process.stderr, `usage: vif-ip-binder ${verb} [--root DIR]\n`)
    return 2
  }
  try {
    const { install, reloadSystemd, uninstall } = await import('../functions/install.ts')
    const result = verb === 'install' ? install(root, process.execPath) : uninstall(root)
    if (root === '/') await reloadSystemd()
    await write(process.stdout, JSON.stringify(result, null, 2) + '\n')
    return 0
  } catch (error) {
    const [code, ...rest] = errorDescriptionOf(verb!, error)
    await write(process.stderr, `${code}: ${rest.join(' | ')}\n`)
    return 1
  }
}

/** Run as /etc/xapi.d/vif-hotplug: returns at once, the work goes on in a worker. */
async function hookMode(argv: string[]): Promise<number> {
  const env = environmentFrom(process.env)
  const log = createLogger(env.syslogSocket, 'vif-ip-binder-hotplug', env.logFile)
  try {
    const { runHook } = await import('../functions/hotplug.ts')
    return await runHook(argv, env, log)
  } catch (error) {
    log.log('err', 'vif-hotplug failed', { argv, error: errorDescriptionOf('vif-hotplug', error) })
    return 1
  } finally {
    await log.close()
  }
}

export async function main(argv: string[]): Promise<number> {
  const first = argv[0]
  if (first === undefined || first === '--help' || first === '-h' || first === 'help')
    return (await import('./by-hand.ts')).helpMode(argv.slice(1), first === undefined)
  if (first.trimStart().startsWith('<')) return xapiMode(first)
  if (first === 'install' || first === 'uninstall') return installMode(argv)
  if (first === '-action' || argv.includes('-action')) return hookMode(argv)
  return (await import('./by-hand.ts')).handMode(argv)
}
