// A person at dom0's console: `vif-ip-binder FUNCTION key=value … [--json] [--help]`,
// `configure --file F`, `help [FUNCTION]`, `--version`. On a terminal a result prints as a
// short summary; with --json (and whenever stdout is not a terminal) as the JSON itself.

import { readFileSync } from 'node:fs'
import { functionSpec, suggestion } from '../../shared/function-spec.ts'
import type { PluginArgs } from '../../shared/plugin-args.ts'
import { PLUGIN_NAME } from '../../shared/version.ts'
import { call, handFunctionNames, write } from './call.ts'
import { functionHelp, overview } from './help.ts'
import { summarize } from './summary.ts'

interface HandCall {
  args: PluginArgs
  json: boolean
  help: boolean
}

/** Words after the function: key=value, --json, --help, and configure's --file FILE. */
function parseWords(fn: string, words: string[]): HandCall | string {
  const parsed: HandCall = { args: {}, json: false, help: false }
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    if (word === '--json') parsed.json = true
    else if (word === '--help' || word === '-h') parsed.help = true
    else if (word === '--file' && fn === 'configure') {
      const file = words[++i]
      if (!file) return '--file needs a file name'
      try {
        parsed.args.bindings = readFileSync(file, 'utf8')
      } catch (error) {
        return `cannot read ${file}: ${(error as Error).message}`
      }
    } else {
      const equals = word.indexOf('=')
      if (equals <= 0) return `expected key=value, got ${JSON.stringify(word)}`
      parsed.args[word.slice(0, equals)] = word.slice(equals + 1)
    }
  }
  return parsed
}

async function unknown(fn: string): Promise<number> {
  const near = suggestion(fn, handFunctionNames())
  await write(
    process.stderr,
    `${PLUGIN_NAME}: unknown function ${JSON.stringify(fn)}${near}; \`${PLUGIN_NAME} help\` lists them\n`,
  )
  return 2
}

/** `help`, `help FUNCTION`, `--help`; with no words at all, the overview on stderr. */
export async function helpMode(words: string[], noWords = false): Promise<number> {
  const [fn] = words
  if (fn === undefined) {
    await write(noWords ? process.stderr : process.stdout, overview())
    return noWords ? 2 : 0
  }
  const spec = functionSpec(fn)
  if (!spec) return unknown(fn)
  await write(process.stdout, functionHelp(spec))
  return 0
}

export async function handMode([first, ...words]: string[]): Promise<number> {
  const fn = first === '--version' ? 'version' : first!
  if (!handFunctionNames().includes(fn)) return unknown(fn)
  const parsed = parseWords(fn, words)
  if (typeof parsed === 'string') {
    await write(process.stderr, `${PLUGIN_NAME} ${fn}: ${parsed}\n\n${functionHelp(functionSpec(fn)!)}`)
    return 2
  }
  if (parsed.help) return helpMode([fn])
  const outcome = await call(fn, parsed.args, undefined, true)
  if (outcome.ok) {
    const summary = !parsed.json && process.stdout.isTTY ? summarize(fn, outcome.value) : undefined
    await write(process.stdout, summary ?? JSON.stringify(outcome.value, null, 2) + '\n')
    return 0
  }
  const [code, ...rest] = outcome.errorDescription
  await write(process.stderr, `${code}: ${rest.join(' | ')}\n`)
  return 1
}
