// README sections that live beside what they describe (the benchmark writes its figures,
// packaging its install steps) are copied into README.md between markers, so there is one
// source for each. `npm run readme` writes them; a unit test fails while README lags.

import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const BLOCK = /<!-- from (\S+): edit it there, then npm run readme -->\n[\s\S]*?\n<!-- end of \1 -->/g

/** README.md with every marked section replaced by its file's current text. */
export function renderReadme(repo: string): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8')
  return readme.replace(BLOCK, (_block, file: string) => {
    const text = readFileSync(join(repo, file), 'utf8').trim()
    return `<!-- from ${file}: edit it there, then npm run readme -->\n${text}\n<!-- end of ${file} -->`
  })
}

export function sectionFiles(repo: string): string[] {
  return [...readFileSync(join(repo, 'README.md'), 'utf8').matchAll(BLOCK)].map(m => m[1]!)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const repo = join(import.meta.dirname, '..')
  writeFileSync(join(repo, 'README.md'), renderReadme(repo))
  console.log(`README.md: ${sectionFiles(repo).join(', ')}`)
}
