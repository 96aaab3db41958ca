// The vif-ip-binder executable. One file, every way in:
//   xapi (host.call_plugin):  vif-ip-binder '<methodCall>…</methodCall>'  → XML on stdout
//   a person, by hand:        vif-ip-binder apply bridge=xapi1 addresses=…  → JSON on stdout
//   xapi's VIF hook:          /etc/xapi.d/vif-hotplug -action online -vifuuid … -vmuuid …
//   the boot unit, the hook's detached worker:  vif-ip-binder boot | hotplug-worker …
//   installation:             vif-ip-binder install|uninstall [--root DIR]
//   help:                     vif-ip-binder --help

import type { PluginArgs } from '../../shared/plugin-args.ts'
import { createContext } from '../functions/context.ts'
import { environmentFrom } from '../runtime/environment.ts'
import { functions, localFunctions } from './function-table.ts'
import { readTextOutput } from '../kernel/ip.ts'
import { runHook } from '../functions/hotplug.ts'
import { install, reloadSystemd, uninstall } from '../functions/install.ts'
import { createLogger } from '../runtime/log.ts'
import { type Outcome, encodeOutcome, errorDescriptionOf, parsePluginCall, unknownFunction } from './protocol.ts'
import { usage } from './usage.ts'

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise(resolve => stream.write(text, () => resolve()))
}

/** `byHand`: the failure is printed to the person anyway; log it only where it is kept. */
async function call(fn: string, args: PluginArgs, session: string | undefined, byHand = false): Promise<Outcome> {
  const env = environmentFrom(process.env)
  if (env.ipTextOutput) readTextOutput()
  const log = createLogger(env.syslogSocket, undefined, fn === 'hotplug-worker' ? env.logFile : undefined)
  try {
    const registry = byHand ? { ...functions, ...localFunctions } : functions
    const handler = Object.hasOwn(registry, fn) ? registry[fn] : undefined
    if (!handler) return { ok: false, errorDescription: unknownFunction(fn) }
    const value = await handler(args, createContext(env, log, session))
    return { ok: true, value }
  } catch (error) {
    const errorDescription = errorDescriptionOf(fn, error)
    if (!(byHand && log.target === 'stderr')) log.log('err', `${fn} failed`, { error: errorDescription })
    return { ok: false, errorDescription }
  } finally {
    await log.close()
  }
}

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

function parseWords(words: string[]): PluginArgs | string {
  const args: PluginArgs = {}
  for (const word of words) {
    const equals = word.indexOf('=')
    if (equals <= 0) return `expected key=value, got ${JSON.stringify(word)}`
    args[word.slice(0, equals)] = word.slice(equals + 1)
  }
  return args
}

async function handMode([fn, ...words]: string[]): Promise<number> {
  const args = parseWords(words)
  if (typeof args === 'string') {
    await write(process.stderr, `vif-ip-binder: ${args}\n\n${usage}`)
    return 2
  }
  const outcome = await call(fn!, args, undefined, true)
  if (outcome.ok) {
    await write(process.stdout, JSON.stringify(outcome.value, null, 2) + '\n')
    return 0
  }
  const [code, ...rest] = outcome.errorDescription
  await write(process.stderr, `${code}: ${rest.join(' | ')}\n`)
  return 1
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
    return await runHook(argv, env, log)
  } catch (error) {
    log.log('err', 'vif-hotplug failed', { argv, error: errorDescriptionOf('vif-hotplug', error) })
    return 1
  } finally {
    await log.close()
  }
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0]
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    await write(first === undefined ? process.stderr : process.stdout, usage)
    return first === undefined ? 2 : 0
  }
  if (first.trimStart().startsWith('<')) return xapiMode(first)
  if (first === 'install' || first === 'uninstall') return installMode(argv)
  if (first === '-action' || argv.includes('-action')) return hookMode(argv)
  return handMode(argv)
}

// Bun's compiled executables and Node both put the script at argv[1]; our words follow.
// No top-level await: the executable is compiled to bytecode, which takes CommonJS only.
void main(process.argv.slice(2)).then(code => {
  process.exitCode = code
})
