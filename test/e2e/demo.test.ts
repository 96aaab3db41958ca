// `npm run demo` is the quick start's main command: it must run to the end, show the
// timeline, clean up, and refuse clearly when not root; on Linux bridges (the default) and
// with `--bridges ovs` on Open vSwitch ones.

import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import { BRIDGE_KINDS, BRIDGE_LABELS } from '../helpers/bridges.ts'
import { listNamespaces, NETNS_PREFIX } from '../helpers/netns.ts'
import { listOvsProcesses } from '../helpers/ovs.ts'

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..')
const demo = ['--import', 'tsx', join(repo, 'scripts/demo.ts')]

describe('npm run demo', { timeout: 180_000 }, () => {
  for (const kind of BRIDGE_KINDS) {
    it(`tells the story in order and exits 0, leaving no namespace behind, on ${BRIDGE_LABELS[kind]}`, async () => {
      const subprocess = execa(process.execPath, kind === 'linux' ? demo : [...demo, '--bridges', kind], {
        cwd: repo,
        reject: false,
        stdin: 'ignore',
        all: true,
        timeout: 170_000,
      })
      const result = await subprocess
      const out = result.all ?? ''
      assert.equal(result.exitCode, 0, out)
      const order = [
        new RegExp(`simulated pool "firewall-pool" on ${BRIDGE_LABELS[kind]}`),
        /1\. Start the firewall VM on host1/,
        /\d+ ms {2}VIF attached on host1/,
        /\d+ ms {2}addresses bound: 10\.77\.0\.2\/24 on xapi0/,
        /\d+ ms {2}default route switched: via 10\.77\.0\.1 dev xapi0/,
        /\d+ ms {2}NFS server 10\.78\.0\.10 reachable/,
        /2\. Migrate the firewall VM to host2/,
        /\d+ ms {2}(addresses bound on host2|host1: management mirror released)/,
        /3\. Stop the firewall VM/,
        /host2: management mirror released/,
        /4\. The Test button/,
        /cleaned up/,
      ]
      let from = 0
      for (const pattern of order) {
        const match = pattern.exec(out.slice(from))
        assert.ok(match, `${pattern} after position ${from} in:\n${out}`)
        from += match.index + match[0].length
      }
      // The milestones of a section come in the order they happened.
      const section1 = out.slice(out.indexOf('1. Start'), out.indexOf('2. Migrate'))
      const times = [...section1.matchAll(/^\s+(\d+) ms/gm)].map(m => Number(m[1]))
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
      )
      assert.match(out, /addresses bound on host2/)
      assert.match(out, /host1: management mirror released/)
      const own = (await listNamespaces()).filter(n => n.startsWith(`${NETNS_PREFIX}${subprocess.pid}-`))
      assert.deepEqual(own, [])
      assert.deepEqual(
        listOvsProcesses().filter(daemon => daemon.owner === subprocess.pid),
        [],
      )
    })
  }

  it('refuses an unknown kind of bridge, saying which', async () => {
    const result = await execa(process.execPath, [...demo, '--bridges', 'vxlan'], {
      cwd: repo,
      reject: false,
      all: true,
    })
    assert.equal(result.exitCode, 2)
    assert.match(result.all ?? '', /bridges: "vxlan" is neither linux nor ovs/)
  })

  it('refuses to run without root, saying so', async () => {
    const result = await execa(process.execPath, demo, {
      cwd: repo,
      reject: false,
      stdin: 'ignore',
      all: true,
      uid: 65534,
      gid: 65534,
      env: { HOME: '/tmp' },
    })
    assert.notEqual(result.exitCode, 0)
    assert.match(result.all ?? '', /npm run demo needs root/)
  })
})
