// Which disabled hosts rescue may enable: only those xapi's own re-enable rule
// (xapi_host_helpers.ml consider_enabling_host) would have enabled once the network came back.

import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { xapiSeconds } from '../../xapi-plugin/functions/auto-start.ts'
import { type DisabledHostFacts, judgeDisabledHost } from '../../xapi-plugin/functions/rescue-policy.ts'
import { LOCAL_DB, readLocalDb } from '../../xapi-plugin/xapi/local-db.ts'

const disabled: DisabledHostFacts = {
  enabled: false,
  localDb: { host_auto_enable: 'true', host_disabled_until_reboot: 'false', 'ha.armed': 'false' },
  pendingGuidances: [],
  hostOtherConfig: {},
  haEnabled: false,
  detachedSrs: ['NFS storage'],
}

describe('rescue policy', () => {
  const cases: [string, Partial<DisabledHostFacts>, string, boolean][] = [
    ['enabled', { enabled: true }, 'enabled', false],
    ['nothing holds it', {}, 'network-missing', true],
    ['HA armed, storage back', { haEnabled: true, detachedSrs: [] }, 'network-missing', true],
    ['HA armed, a PBD failed', { haEnabled: true }, 'ha-storage-missing', false],
    ['HA armed per local.db', { localDb: { 'ha.armed': 'true' } }, 'ha-storage-missing', false],
    ['persistent disable', { localDb: { host_auto_enable: 'false' } }, 'disabled-persistently', false],
    ['maintenance mode marker', { hostOtherConfig: { MAINTENANCE_MODE: 'true' } }, 'maintenance-mode', false],
    ['pending guidance', { pendingGuidances: ['reboot_host'] }, 'pending-guidances', false],
    ['until reboot', { localDb: { host_disabled_until_reboot: 'true' } }, 'disabled-until-reboot', false],
  ]
  for (const [what, facts, expected, enable] of cases) {
    test(what, () => {
      const verdict = judgeDisabledHost({ ...disabled, ...facts })
      assert.deepEqual([verdict.case, verdict.enable], [expected, enable])
      assert.ok(verdict.reason.length > 20, 'says why')
    })
  }
})

describe('xapi records', () => {
  test("local.db rows, with xapi's escaping", () => {
    const root = mkdtempSync(join(tmpdir(), 'vib-localdb-'))
    try {
      assert.deepEqual(readLocalDb(root), {}, 'no file yet: nothing known')
      mkdirSync(join(root, 'var/lib/xcp'), { recursive: true })
      writeFileSync(
        join(root, LOCAL_DB),
        '<?xml version="1.0" encoding="UTF-8"?><config><row key="host_auto_enable" value="false"/><row key="a&amp;b" value="&lt;x&gt;"/></config>',
      )
      assert.deepEqual(readLocalDb(root), { host_auto_enable: 'false', 'a&b': '<x>' })
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  test('xapi dateTime in its basic and extended forms', () => {
    assert.equal(xapiSeconds('20261201T20:58:01Z'), Date.UTC(2026, 11, 1, 20, 58, 1) / 1000)
    assert.equal(xapiSeconds('2026-12-01T20:58:01.000Z'), Date.UTC(2026, 11, 1, 20, 58, 1) / 1000)
    assert.ok(Number.isNaN(xapiSeconds('')))
  })
})
