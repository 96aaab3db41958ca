// The hook's quick answer: a VIF plug or unplug that no binding concerns, decided from the
// hook index (engine/hook-index.ts) with nothing but node:fs, before the rest of the
// executable is evaluated. Whenever the answer is not plainly "nothing to do" (another
// hook chained before ours, a pause, no fresh index, a VIF the index does not know, words
// that are not exactly the hook's), the full path decides, validates and logs as always.

import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { readHookIndex } from '../engine/hook-index.ts'
import { environmentFrom } from '../runtime/environment.ts'
import { CHAINED_HOOK } from '../runtime/layout.ts'
import { pauseFile } from '../runtime/pause-file.ts'
import { isUuid } from '../../shared/xapi-ids.ts'

/** `-action online|remove -vifuuid U -vmuuid V`, in any order; undefined if anything else. */
function hookWords(argv: string[]): { vif: string; vm: string } | undefined {
  if (argv.length !== 6) return undefined
  const values = new Map<string, string>()
  for (let i = 0; i < 6; i += 2) values.set(argv[i]!, argv[i + 1]!)
  const action = values.get('-action')
  const vif = values.get('-vifuuid')
  const vm = values.get('-vmuuid')
  if ((action !== 'online' && action !== 'remove') || !vif || !vm || !isUuid(vif) || !isUuid(vm)) return undefined
  return { vif, vm }
}

/** True when the hook has plainly nothing to do for this VIF. */
export function nothingToDoForHook(argv: string[], processEnv: NodeJS.ProcessEnv): boolean {
  const words = hookWords(argv)
  if (!words) return false
  const env = environmentFrom(processEnv)
  if (existsSync(join(env.root, CHAINED_HOOK)) || existsSync(pauseFile(env.stateDir))) return false
  const index = readHookIndex(env.stateDir)
  if (!index) return false
  // A VM no binding names, or a VIF of a bound VM on a network no binding names.
  const vm = index.vms[words.vm]
  return vm === undefined || vm.vifs[words.vif] === null
}
