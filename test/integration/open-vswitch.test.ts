// The Open vSwitch instances the OVS cases run on: inside their namespace, gone with stop(),
// gone with the process that started them even when it is killed, and swept when some
// survive their owner anyway.

import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import {
  createNamespace,
  deleteNamespace,
  listNamespaces,
  namespaceName,
  sweepDeadNamespaces,
  sweepDeadTempDirs,
} from '../helpers/netns.ts'
import { OVS_DIR_PREFIX, listOvsProcesses, startOvs, sweepDeadOvs } from '../helpers/ovs.ts'

const HELPERS = new URL('../helpers/', import.meta.url).pathname

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const daemonsOf = (owner: number) => listOvsProcesses().filter(daemon => daemon.owner === owner)

/** The namespace a process is in, as `ip netns identify` names it. */
async function namespaceOf(pid: number): Promise<string> {
  return (await execa('ip', ['netns', 'identify', String(pid)])).stdout.trim()
}

describe('Open vSwitch in a test namespace (OVS)', () => {
  it('runs both daemons inside the namespace with their own run directory; stop ends them and removes it', async () => {
    const ns = await createNamespace(namespaceName('ovs-own'))
    try {
      const ovs = await startOvs(ns)
      const daemons = daemonsOf(process.pid)
      assert.deepEqual(daemons.map(d => d.command.split(' ')[0]!.split('/').pop()).sort(), [
        'ovs-vswitchd',
        'ovsdb-server',
      ])
      for (const daemon of daemons) assert.equal(await namespaceOf(daemon.pid), ns)
      assert.ok(ovs.dir.startsWith(join(tmpdir(), `${OVS_DIR_PREFIX}${process.pid}-`)), ovs.dir)
      await ovs.vsctl('add-br', 'xapi9', '--', 'set', 'bridge', 'xapi9', 'datapath_type=netdev')
      assert.equal((await ovs.vsctl('list-br')).trim(), 'xapi9')

      await ovs.stop()
      assert.deepEqual(daemonsOf(process.pid), [])
      assert.equal(existsSync(ovs.dir), false)
    } finally {
      await deleteNamespace(ns)
    }
  })

  it('its daemons die with the process that started them, even killed mid-way; the sweep takes the rest', async () => {
    const script = `
      const { createNamespace, namespaceName } = await import('${HELPERS}netns.ts')
      const { startOvs } = await import('${HELPERS}ovs.ts')
      await startOvs(await createNamespace(namespaceName('ovs-killed')))
      console.log('ready')
      setInterval(() => {}, 1000)`
    const owner = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      reject: false,
      buffer: false,
    })
    try {
      await new Promise<void>((resolve, reject) => {
        owner.stdout!.on('data', (data: Buffer) => String(data).includes('ready') && resolve())
        void owner.then(result => reject(new Error(`the owner exited: ${String(result.exitCode)}`)))
      })
      const pid = owner.pid!
      assert.equal(daemonsOf(pid).length, 2)

      owner.kill('SIGKILL')
      await owner
      await until('the daemons to die with their owner', () => daemonsOf(pid).length === 0)
      const ns = namespaceName('ovs-killed', pid)
      assert.ok((await listNamespaces()).includes(ns), 'only a sweep removes the namespace of a killed owner')
      assert.ok((await sweepDeadNamespaces()).includes(ns))
      const dirs = sweepDeadTempDirs()
      assert.ok(
        dirs.some(dir => dir.startsWith(`${OVS_DIR_PREFIX}${pid}-`)),
        'its run directory',
      )
    } finally {
      owner.kill('SIGKILL')
      await owner
      await sweepDeadNamespaces()
      sweepDeadTempDirs()
    }
  })

  it('sweepDeadOvs() ends daemons whose owner is gone', async () => {
    const gone = Number((await execa(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])).stdout)
    const dir = mkdtempSync(join(tmpdir(), `${OVS_DIR_PREFIX}${gone}-`))
    try {
      // Started by hand, detached: a daemon that outlived its owner.
      await execa('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema'])
      const args = [join(dir, 'conf.db'), `--remote=punix:${join(dir, 'db.sock')}`, `--pidfile=${join(dir, 'pid')}`]
      await execa('ovsdb-server', [...args, `--unixctl=${join(dir, 'ctl')}`, '--detach', '--no-chdir'])
      const [daemon] = daemonsOf(gone)
      assert.ok(daemon)

      assert.ok(sweepDeadOvs().some(swept => swept.endsWith(`[${daemon.pid}]`)))
      await until('the swept daemon to end', () => daemonsOf(gone).length === 0)
    } finally {
      sweepDeadOvs()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
