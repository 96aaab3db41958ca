// The bindings file of `vif-ip-binder-xo`: the settings page's configuration as JSON or
// YAML (by extension; .yaml/.yml is YAML, anything else JSON), read and written the same way.

import { readFile, writeFile } from 'node:fs/promises'
import { parse, stringify } from 'yaml'
import { type PluginConfig, parsePluginConfig } from '../../shared/binding.ts'
import { invalidArgument } from '../../shared/errors.ts'

function isYaml(path: string): boolean {
  return /\.ya?ml$/i.test(path)
}

/** Reads and checks a bindings file with the plugin's own parser; throws naming the bad value. */
export async function readConfigFile(path: string): Promise<PluginConfig> {
  const text = await readFile(path, 'utf8')
  let value: unknown
  try {
    value = isYaml(path) ? parse(text) : JSON.parse(text)
  } catch (error) {
    throw invalidArgument(`${path}: not ${isYaml(path) ? 'YAML' : 'JSON'}: ${(error as Error).message}`, path)
  }
  parsePluginConfig(value as PluginConfig)
  return value as PluginConfig
}

export async function writeConfigFile(path: string, config: unknown): Promise<void> {
  await writeFile(path, isYaml(path) ? stringify(config) : JSON.stringify(config, null, 2) + '\n')
}
