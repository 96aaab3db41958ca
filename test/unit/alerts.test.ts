// The alert module's own rules: names and priorities as xapi grades them, the once-an-hour
// decision, and that an alert with no xapi to send it to never fails the call. What xapi
// ends up holding is asserted in test/e2e/host-alerts.test.ts, against the simulator.

import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ALERTS, ALERT_PREFIX } from '../../shared/alerts.ts'
import { ALERTS_FILE, type OpenAlert, clearAlerts, decide, raiseAlert } from '../../xapi-plugin/engine/alerts.ts'
import { environmentFrom } from '../../xapi-plugin/runtime/environment.ts'
import { REPO } from '../helpers/host-plugin.ts'
import type { Level, Logger } from '../../xapi-plugin/runtime/log.ts'

const HOUR_MS = 3600_000

function open(raisedAt: number): OpenAlert {
  return {
    name: 'VIF_IP_BINDER_BIND_FAILED',
    subject: 'xapi1',
    ref: 'OpaqueRef:m1',
    raisedAt: new Date(raisedAt).toISOString(),
    repeats: 0,
  }
}

describe('alert catalogue', () => {
  test('every name is prefixed and unique; classes and priorities are xapi ones', () => {
    const names = Object.values(ALERTS).map(a => a.name)
    assert.equal(new Set(names).size, names.length)
    for (const alert of Object.values(ALERTS)) {
      assert.ok(alert.name.startsWith(ALERT_PREFIX), alert.name)
      assert.ok([1, 2, 3, 4, 5].includes(alert.priority), alert.name)
      assert.ok(['Host', 'VM'].includes(alert.cls), alert.name)
    }
    assert.equal(ALERTS['auto-start-failed'].name, 'VIF_IP_BINDER_AUTO_START_FAILED', 'the name it always had')
    assert.equal(ALERTS.reverted.name, 'VIF_IP_BINDER_REVERTED')
  })

  test('the README lists each message with its priority and where it goes', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
    for (const alert of Object.values(ALERTS)) {
      const row = new RegExp(`^\\| \`${alert.name}\` \\| ${alert.priority} \\| ${alert.cls} \\|`, 'mi')
      assert.ok(row.test(readme), `README: a row for ${alert.name}, priority ${alert.priority}, on ${alert.cls}`)
    }
  })
})

describe('once an hour per cause and subject', () => {
  const now = Date.parse('2026-12-02T10:00:00Z')
  test('nothing open: create', () => assert.deepEqual(decide(undefined, now), { action: 'create' }))
  test('open for less than the hour: count only', () => {
    assert.deepEqual(decide(open(now), now), { action: 'count' })
    assert.deepEqual(decide(open(now - HOUR_MS + 1000), now), { action: 'count' })
  })
  test('open for the hour or more: replace the message', () => {
    assert.deepEqual(decide(open(now - HOUR_MS), now), { action: 'supersede', old: 'OpaqueRef:m1' })
  })
  test('a raisedAt in the future (the clock went back): replace rather than stay silent', () => {
    assert.deepEqual(decide(open(now + HOUR_MS), now), { action: 'supersede', old: 'OpaqueRef:m1' })
  })
  test('the window is a parameter', () =>
    assert.deepEqual(decide(open(now - 2000), now, 1), { action: 'supersede', old: 'OpaqueRef:m1' }))
})

describe('with no xapi to send it to', () => {
  test('raise and clear log and return; nothing is recorded as sent', async t => {
    const root = mkdtempSync(join(tmpdir(), 'vib-alerts-'))
    t.after(() => rmSync(root, { recursive: true, force: true }))
    mkdirSync(join(root, 'etc'))
    writeFileSync(join(root, 'etc/xensource-inventory'), "INSTALLATION_UUID='0b7e3d1c-5a2f-4c1e-9d8b-7a6f5e4d3c2b'\n")
    const lines: string[] = []
    const log: Logger = {
      target: 'stderr',
      log: (level: Level, message: string) => void lines.push(`${level}: ${message}`),
      close: async () => {},
    }
    const ctx = { env: environmentFrom({ VIF_IP_BINDER_ROOT: root }), log }
    const body = 'bridge xapi1 could not be bound'
    assert.equal(await raiseAlert(ctx, { cause: 'bind-failed', subject: 'xapi1', body }), 'failed')
    assert.ok(
      lines.some(l => l.startsWith('warning: alert not sent to xapi') && l.includes(body)),
      lines.join('\n'),
    )
    const stateFile = join(ctx.env.stateDir, ALERTS_FILE)
    assert.ok(!existsSync(stateFile) || !readFileSync(stateFile, 'utf8').includes('xapi1'), 'nothing recorded as open')
    assert.equal(await clearAlerts(ctx, ['bind-failed'], 'xapi1'), 0)
  })
})
