// Rewrites bench/README-section.md (README's Performance section) from bench/results.json,
// what the last full `npm run bench` wrote, and copies it into README.md. `npm run bench`
// does the same at the end of every full run.

import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BenchOutput, performanceSection } from '../bench/performance-section.ts'
import { renderReadme } from './readme-sections.ts'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')

export async function writeReadmePerformance(output: BenchOutput): Promise<void> {
  await writeFile(join(repo, 'bench/README-section.md'), performanceSection(output))
  await writeFile(join(repo, 'README.md'), renderReadme(repo))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const output = JSON.parse(await readFile(join(repo, 'bench/results.json'), 'utf8')) as BenchOutput & {
    quick?: boolean
  }
  if (output.quick) throw new Error('bench/results.json is from a --quick run: its figures mean nothing')
  await writeReadmePerformance(output)
  console.log('README.md: Performance section written from bench/results.json')
}
