// npm test's runner: every test file, one at a time (namespace tests share the kernel),
// in layer order: unit, host-plugin integration, simulator, end to end, then the check
// that nothing was left behind. One node:test run, so one summary.

import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { sweepDeadNamespaces, sweepDeadTempDirs } from '../test/helpers/netns.ts'
import { sweepDeadOvs } from '../test/helpers/ovs.ts'
import { describeFailures, tapFailures } from './tap-failures.ts'

const LAYERS = ['test/unit', 'test/integration', 'test/xapi-sim', 'test/e2e']
const LAST = 'test/leftovers.test.ts'

function testFiles(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter(n => n.endsWith('.test.ts'))
    .sort()
    .map(n => join(dir, n))
}

const only = process.argv.slice(2)
const files = only.length ? only : [...LAYERS.flatMap(testFiles), LAST]

if (process.getuid?.() !== 0) {
  console.error('npm test needs root: the integration tests build network namespaces (run it with sudo).')
  process.exit(1)
}

// A run that was killed cannot clean up after itself; the next one does, so that the last
// test's "nothing left behind" speaks about this run only. Open vSwitch daemons first: a
// namespace with a process in it outlives its deletion.
const swept = [...sweepDeadOvs(), ...(await sweepDeadNamespaces()), ...sweepDeadTempDirs()]
if (swept.length) console.log(`swept leftovers of an earlier run: ${swept.join(' ')}`)

// Spec output for people; TAP into a file, from which the last line is the plain
// "N passed, N failed" that any CI reads.
const tapDir = mkdtempSync(join(tmpdir(), `vib-unit-${process.pid}-`))
const tapFile = join(tapDir, 'results.tap')
const result = await execa(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    // Node 20 times each file as a whole: a file that hangs fails, named in the summary (its
    // last test is the last one printed), instead of holding CI. The longest takes 2 min alone.
    '--test-timeout=420000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { stdio: 'inherit', reject: false },
)
const tap = readFileSync(tapFile, 'utf8')
rmSync(tapDir, { recursive: true, force: true })
const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0)
const failures = tapFailures(tap)
if (failures.length) console.log(`\nFailed tests:\n${describeFailures(failures, process.cwd())}`)
console.log(`\n${count('pass')} passed, ${count('fail')} failed`)
process.exit(result.exitCode ?? 1)
