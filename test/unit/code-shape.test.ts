// The shape the codebase keeps: no function in the product code over 60 lines, and the
// host plugin's imports pointing one way (entry → functions → engine → kernel/xapi →
// runtime), with the wire contract in shared/ and neither plugin importing the other.

import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { REPO } from '../helpers/host-plugin.ts'
import { functionLengths } from '../helpers/function-lengths.ts'

const MAX_LINES = 60

/**
 * Functions allowed to be longer, each with its current length as a ceiling (it may only
 * shrink) and the reason. A listed function that is now short enough must leave the list.
 */
const LONGER: Record<string, { lines: number; why: string }> = {}

test(`no function in shared/, xapi-plugin/, xo-plugin/ is over ${MAX_LINES} lines`, () => {
  const found = functionLengths(REPO, ['shared', 'xapi-plugin', 'xo-plugin'])
  const key = (f: { where: string; name: string }) => `${f.where.split(':')[0]} ${f.name}`
  const tooLong = found
    .filter(f => f.lines > MAX_LINES && !(LONGER[key(f)] && f.lines <= LONGER[key(f)]!.lines))
    .map(f => `${f.where} ${f.name}: ${f.lines} lines`)
  assert.deepEqual(tooLong, [])
  const stale = Object.keys(LONGER).filter(k => !found.some(f => key(f) === k && f.lines > MAX_LINES))
  assert.deepEqual(stale, [], 'these are short enough now: take them off the LONGER list')
})

const LAYERS = ['entry', 'functions', 'engine', 'kernel', 'xapi', 'runtime'] as const
/** What each layer of the host plugin may import besides itself and shared/. */
const MAY_IMPORT: Record<(typeof LAYERS)[number], string[]> = {
  entry: ['functions', 'engine', 'kernel', 'xapi', 'runtime'],
  functions: ['engine', 'kernel', 'xapi', 'runtime'],
  engine: ['kernel', 'xapi', 'runtime'],
  kernel: ['runtime'],
  xapi: ['runtime'],
  runtime: [],
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : []
  })
}

function relativeImports(path: string): string[] {
  const text = readFileSync(path, 'utf8')
  return [...text.matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)].map(m =>
    relative(REPO, resolve(path, '..', m[1]!)),
  )
}

test('host plugin imports point one way; shared/ imports neither plugin; neither plugin imports the other', () => {
  const wrong: string[] = []
  for (const path of files(join(REPO, 'xapi-plugin'))) {
    const layer = relative(join(REPO, 'xapi-plugin'), path).split('/')[0] as (typeof LAYERS)[number]
    assert.ok(LAYERS.includes(layer), `${relative(REPO, path)} is outside the layer folders`)
    for (const target of relativeImports(path)) {
      const [top, targetLayer] = target.split('/')
      if (top === 'shared') continue
      if (top !== 'xapi-plugin' || (targetLayer !== layer && !MAY_IMPORT[layer].includes(targetLayer!))) {
        wrong.push(`${relative(REPO, path)} -> ${target}`)
      }
    }
  }
  for (const [dir, forbidden] of [
    ['shared', ['xapi-plugin', 'xo-plugin']],
    ['xo-plugin', ['xapi-plugin']],
  ] as const) {
    for (const path of files(join(REPO, dir))) {
      for (const target of relativeImports(path)) {
        if (forbidden.some(f => target.startsWith(`${f}/`))) wrong.push(`${relative(REPO, path)} -> ${target}`)
      }
    }
  }
  assert.deepEqual(wrong, [])
})
