// README's copied sections match their sources (scripts/readme-sections.ts).

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { renderReadme, sectionFiles } from '../../scripts/readme-sections.ts'
import { REPO } from '../helpers/host-plugin.ts'

test('README.md carries the current text of every section file (npm run readme)', () => {
  assert.ok(sectionFiles(REPO).length >= 2, 'the markers are in place')
  assert.equal(readFileSync(join(REPO, 'README.md'), 'utf8'), renderReadme(REPO))
})
