// The CLI as an outside user runs it: `npm run sim -- --scenario firewall-pool`, read its
// JSON line, drive the pool with xen-api, SIGTERM, and check that every namespace,
// directory and Open vSwitch daemon it created is gone; on Linux and on OVS bridges.

import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { afterEach, describe, it } from 'node:test'
import { execa, type ResultPromise } from 'execa'
import { createClient } from 'xen-api'
import { BRIDGE_KINDS, BRIDGE_LABELS, type BridgeKind } from '../helpers/bridges.ts'
import { listNamespaces } from '../helpers/netns.ts'
import { listOvsProcesses } from '../helpers/ovs.ts'
import { REPO_ROOT, type SimDescription } from './simulator.ts'
import { linkInfo, waitUntil, type XapiClient } from './test-helpers.ts'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The ports of a bridge of a host the CLI described, asked the way its bridges' kind answers. */
async function portsOf(kind: BridgeKind, host: SimDescription['hosts'][number], bridge: string): Promise<string[]> {
  if (kind === 'linux') return (await linkInfo(host.netns, 'vif1.0'))?.master === bridge ? ['vif1.0'] : []
  const listed = await execa('ovs-vsctl', [`--db=${host.ovsdb}`, 'list-ports', bridge])
  return listed.stdout.split('\n').filter(Boolean)
}

describe('npm run sim', () => {
  let child: ResultPromise | undefined

  afterEach(async () => {
    // Whatever happened, end the whole group we started (npm, sh, the CLI).
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM')
      } catch {
        // already gone
      }
    }
  })

  for (const kind of BRIDGE_KINDS) {
    it(
      `prints one JSON line, serves the pool to xen-api, and cleans up on SIGTERM, on ${BRIDGE_LABELS[kind]}`,
      { timeout: 120_000 },
      async () => {
        child = execa('npm', ['run', 'sim', '--', '--scenario', 'firewall-pool', '--bridges', kind], {
          cwd: REPO_ROOT,
          reject: false,
          stdin: 'ignore',
          buffer: false,
          detached: true, // its own process group, so `after` can end all of it
        })
        const lines = createInterface({ input: child.stdout! })
        const stderr: string[] = []
        child.stderr!.on('data', d => stderr.push(String(d)))
        let description: SimDescription | undefined
        const jsonLines: string[] = []
        for await (const line of lines) {
          if (line.startsWith('{')) {
            jsonLines.push(line)
            description = JSON.parse(line)
            break
          }
        }
        assert.ok(description, `no JSON line; stderr: ${stderr.join('')}`)
        assert.match(description.url, /^http:\/\/127\.0\.0\.1:\d+$/)
        assert.equal(description.hosts.length, 2)
        assert.equal(description.bridges, kind)
        assert.deepEqual(
          description.vms.map(v => v.name),
          ['firewall'],
        )
        for (const h of description.hosts) {
          assert.ok(existsSync(`${h.root}/etc/xapi.d/plugins/vif-ip-binder`))
          assert.ok(existsSync(`${h.root}/var/lib/xcp/xapi`))
        }
        const namespaces = [...description.hosts.map(h => h.netns), ...description.vms.map(v => v.netns)]
        const present = await listNamespaces()
        for (const ns of namespaces) assert.ok(present.includes(ns), ns)

        const xapi = createClient({
          url: description.url,
          auth: { user: description.user, password: description.password },
          transport: 'json-rpc',
          debounce: 20,
          eventPollDelay: 100,
        }) as XapiClient
        try {
          await xapi.connect()
          await xapi.objectsFetched
          const fw = xapi.getObjectByUuid(description.vms[0]!.uuid)
          const host1 = xapi.getObjectByUuid(description.hosts[0]!.uuid)
          await xapi.call('VM.start_on', fw.$ref, host1.$ref, false, false)
          await waitUntil('running in the cache', () => xapi.getObjectByUuid(fw.uuid).power_state === 'Running')
          assert.deepEqual(await portsOf(kind, description.hosts[0]!, 'xapi0'), ['vif1.0'])
          const version = JSON.parse(await xapi.call('host.call_plugin', host1.$ref, 'vif-ip-binder', 'version', {}))
          assert.equal(version.name, 'vif-ip-binder')
        } finally {
          await xapi.disconnect()
        }

        // Only the line: nothing else of ours on stdout.
        assert.equal(jsonLines.length, 1)
        // SIGTERM to the process we spawned (npm): the CLI behind it must stop and clean up.
        child.kill('SIGTERM')
        const cliPid = /^vib(\d+)-/.exec(description.hosts[0]!.netns)![1]
        await waitUntil(
          'the CLI to clean up',
          async () => (await listNamespaces()).every(n => !n.startsWith(`vib${cliPid}-`)),
          20_000,
        )
        await waitUntil('the CLI to exit', () => !alive(Number(cliPid)), 10_000)
        for (const h of description.hosts) assert.equal(existsSync(h.root), false, `${h.root} removed`)
        assert.deepEqual(
          listOvsProcesses().filter(daemon => daemon.owner === Number(cliPid)),
          [],
        )
        assert.match(stderr.join(''), /stopping the simulator/)
      },
    )
  }
})
