// The RPM (`npm run package`) as dom0's yum would see it: what it requires, how its payload
// is compressed, and what installing, upgrading and erasing it does to a host's tree.
// Each host is a directory initialised with `rpm --initdb --root`; rpm runs the package's
// Lua scriptlets chrooted into it. A stub package stands for the dom0 packages our
// Requires name, so rpm's own dependency check runs instead of being skipped.

import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { readlinkSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { execa } from 'execa'
import { DEFAULT_OUTDIR, PACKAGE_INPUTS, REPO, RECOVERY, rpmFileName, rpmVersion } from '../../scripts/package.ts'
import { FUNCTION_SPECS } from '../../shared/function-spec.ts'
import { DEFAULT_PLUG_TIMEOUT_SECONDS, FUNCTION_KEYS } from '../../shared/plugin-args.ts'
import { GATEWAY_WAIT_BUDGET_S } from '../../xapi-plugin/functions/apply-until.ts'
import { DEFAULT_BOOT_WAIT_SECONDS } from '../../xapi-plugin/functions/boot.ts'
import { UNIT_TEXT } from '../../xapi-plugin/functions/install.ts'
import { assertRunsOnDom0 } from '../helpers/elf.ts'
import { HOST_PLUGIN, XAPI_PATH } from '../helpers/host-plugin.ts'
import { type TreeEntry, snapshotTree } from '../helpers/tree.ts'

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string
  license: string
  homepage?: string
}
const VERSION = rpmVersion(pkg.version)
const RPM = join(DEFAULT_OUTDIR, rpmFileName(VERSION))
const NEXT_SEMVER = pkg.version.replace(
  /^(\d+)\.(\d+)\.(\d+).*$/,
  (_, major, minor, patch) => `${major}.${minor}.${Number(patch) + 1}`,
)
const DBPATH = '/var/lib/rpm'

/** Directories every dom0 has, that the package puts files in without owning them. */
const DOM0_DIRS = [
  'etc/xapi.d/plugins',
  'etc/systemd/system/multi-user.target.wants',
  'opt',
  'usr/lib/systemd/system',
  'usr/sbin',
  'usr/share/doc',
  'usr/share/man/man8',
  'var/lib',
  'var/log',
]

/** What every XCP-ng dom0 has installed (xapi itself needs them): all the package may require. */
const DOM0_PACKAGES = ['iproute', 'iputils', 'util-linux']

/** rpm 4.11's rpmlib() features and their versions (lib/rpmds.c of rpm-4.11.x). */
const RPM_4_11_FEATURES: Record<string, string> = {
  'rpmlib(VersionedDependencies)': '3.0.3-1',
  'rpmlib(CompressedFileNames)': '3.0.4-1',
  'rpmlib(PayloadIsBzip2)': '3.0.5-1',
  'rpmlib(PayloadIsXz)': '5.2-1',
  'rpmlib(PayloadIsLzma)': '4.4.2-1',
  'rpmlib(PayloadFilesHavePrefix)': '4.0-1',
  'rpmlib(ExplicitPackageProvide)': '4.0-1',
  'rpmlib(HeaderLoadSortsTags)': '4.0.1-1',
  'rpmlib(ScriptletInterpreterArgs)': '4.0.3-1',
  'rpmlib(PartialHardlinkSets)': '4.0.4-1',
  'rpmlib(ConcurrentAccess)': '4.1-1',
  'rpmlib(BuiltinLuaScripts)': '4.2.2-1',
  'rpmlib(FileDigests)': '4.6.0-1',
  'rpmlib(FileCaps)': '4.6.1-1',
  'rpmlib(ScriptletExpansion)': '4.9.0-1',
  'rpmlib(TildeInVersions)': '4.10.0-1',
}

/** Functions of rpm 4.11's Lua `posix` module (luaext/lposix.c) the scriptlets may use. */
const RPM_4_11_POSIX = [
  'access',
  'chmod',
  'dir',
  'exec',
  'fork',
  'mkdir',
  'readlink',
  'rmdir',
  'stat',
  'symlink',
  'unlink',
  'wait',
]

const FOREIGN_HOOK = '#!/bin/sh\necho "foreign $*" >> "${VIF_IP_BINDER_ROOT:-}/var/log/foreign-hook.log"\n'
const VIF = '0b1e7c0e-1111-4222-8333-444455556666'
const VM = '0b1e7c0e-7777-4888-9999-aaaabbbbcccc'

const STUB_SPEC = `Name: dom0-base-stub
Version: 1
Release: 1
Summary: stands for the dom0 packages vif-ip-binder requires
License: MIT
BuildArch: noarch
Provides: ${DOM0_PACKAGES.join(' ')}
%description
Test stub.
%files
`

const temps: string[] = []
function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `vib-int-${process.pid}-${tag}-`))
  temps.push(dir)
  return dir
}

async function rpmIn(root: string, ...args: string[]) {
  return execa('rpm', ['--root', root, '--dbpath', DBPATH, ...args], {
    reject: false,
    stdin: 'ignore',
    env: { LC_ALL: 'C' },
  })
}

async function rpmOk(root: string, ...args: string[]) {
  const result = await rpmIn(root, ...args)
  assert.equal(result.exitCode, 0, `rpm ${args.join(' ')}: ${result.stderr}`)
  return result
}

async function query(file: string, format: string): Promise<string> {
  return (await execa('rpm', ['-qp', '--qf', format, file], { env: { LC_ALL: 'C' } })).stdout
}

/** A newer package input means dist/rpm is stale; the build runs once per test file at most. */
function isStale(rpm: string): boolean {
  if (!existsSync(rpm)) return true
  const built = statSync(rpm).mtimeMs
  return PACKAGE_INPUTS.some(input => statSync(input).mtimeMs > built)
}

async function buildPackage(...args: string[]): Promise<void> {
  const result = await execa(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/package.ts'), ...args], {
    cwd: REPO,
    reject: false,
    all: true,
  })
  assert.equal(result.exitCode, 0, `scripts/package.ts ${args.join(' ')}:\n${result.all}`)
}

let work = ''
let stubRpm = ''
let nextRpm = ''

before(async () => {
  if (isStale(RPM)) await buildPackage()
  work = tempDir('work')
  writeFileSync(join(work, 'stub.spec'), STUB_SPEC)
  const stub = await execa(
    'rpmbuild',
    [
      '-bb',
      '--quiet',
      '--define',
      `_topdir ${join(work, 'top')}`,
      '--define',
      `_rpmdir ${work}`,
      '--define',
      '_rpmfilename stub.rpm',
      join(work, 'stub.spec'),
    ],
    { reject: false, env: { LC_ALL: 'C' } },
  )
  assert.equal(stub.exitCode, 0, stub.stderr)
  stubRpm = join(work, 'stub.rpm')
  await buildPackage('--version', NEXT_SEMVER, '--outdir', work)
  nextRpm = join(work, rpmFileName(rpmVersion(NEXT_SEMVER)))
})

after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true })
})

/** Alive and not a zombie waiting for a parent that is not us to reap it. */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z'
  } catch {
    return false
  }
}

/** A dom0-like tree: rpm database with the dom0 stub, xapi's and systemd's directories, a foreign hook. */
async function hostRoot(tag: string, options: { foreignHook: boolean }): Promise<string> {
  const root = tempDir(tag)
  await rpmOk(root, '--initdb')
  await rpmOk(root, '-i', stubRpm)
  for (const dir of DOM0_DIRS) mkdirSync(join(root, dir), { recursive: true })
  writeFileSync(join(root, 'etc/xapi.d/plugins/other-plugin'), 'keep me\n', { mode: 0o755 })
  if (options.foreignHook) {
    writeFileSync(join(root, 'etc/xapi.d/vif-hotplug'), FOREIGN_HOOK)
    chmodSync(join(root, 'etc/xapi.d/vif-hotplug'), 0o750)
  }
  return root
}

/** The tree without rpm's database: what the package and its scriptlets are answerable for. */
function files(root: string): Record<string, TreeEntry> {
  const tree = snapshotTree(root)
  for (const path of Object.keys(tree)) if (path === 'var/lib/rpm' || path.startsWith('var/lib/rpm/')) delete tree[path]
  return tree
}

test('the package: metadata, dom0-only requirements, rpmlib features of rpm 4.11, gzip or xz payload', async () => {
  assert.equal(await query(RPM, '%{NAME} %{VERSION} %{RELEASE} %{ARCH}'), `vif-ip-binder ${VERSION} 1 x86_64`)
  assert.equal(await query(RPM, '%{LICENSE}'), pkg.license)
  assert.equal(await query(RPM, '%{URL}'), pkg.homepage ?? '(none)')
  assert.match(await query(RPM, '%{SUMMARY}'), /dom0/)
  assert.ok((await query(RPM, '%{DESCRIPTION}')).length > 200, 'a real description')
  assert.match(
    await query(RPM, '%{CHANGELOGNAME}'),
    new RegExp(` - ${VERSION.replaceAll('.', '\\.')}-1$`),
    'the newest changelog entry is this version',
  )

  const requires = (await execa('rpm', ['-qp', '--requires', RPM])).stdout.split('\n').filter(Boolean)
  const rpmlib = requires.filter(r => r.startsWith('rpmlib('))
  assert.deepEqual(
    requires.filter(r => !r.startsWith('rpmlib(')).sort(),
    [...DOM0_PACKAGES].sort(),
    'requires exactly what dom0 has, unversioned',
  )
  assert.ok(rpmlib.length > 0, 'rpmbuild always adds rpmlib features: none found means the query is wrong')
  for (const requirement of rpmlib) {
    const [name = '', op, version] = requirement.split(' ')
    assert.ok(name in RPM_4_11_FEATURES, `${name} is not a feature of rpm 4.11`)
    assert.equal(`${op} ${version}`, `<= ${RPM_4_11_FEATURES[name]}`, requirement)
  }

  assert.match(await query(RPM, '%{PAYLOADCOMPRESSOR}'), /^(gzip|xz)$/)
  assert.equal(await query(RPM, '%{PAYLOADFORMAT}'), 'cpio')
  for (const tag of ['PREINPROG', 'POSTINPROG', 'PREUNPROG', 'POSTUNPROG']) {
    assert.equal(await query(RPM, `%{${tag}}`), '<lua>', `${tag}: no /bin/sh needed, so rpm --root works`)
  }
  const listing = await query(
    RPM,
    '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES} %{FILELINKTOS}\n]',
  )
  assert.deepEqual(
    listing
      .trim()
      .split('\n')
      .map(l => l.trim())
      .sort(),
    [
      '-rw-r--r-- root:root /usr/lib/systemd/system/vif-ip-binder.service',
      '-rw-r--r-- root:root /usr/share/man/man8/vif-ip-binder.8',
      `-rw-r--r-- root:root /usr/share/doc/vif-ip-binder/README.md`,
      `-rw-r--r-- root:root /usr/share/doc/vif-ip-binder/RECOVERY.md`,
      '-rwxr-xr-x root:root /opt/vif-ip-binder/bin/vif-ip-binder',
      'drwxr-xr-x root:root /opt/vif-ip-binder',
      'drwxr-xr-x root:root /opt/vif-ip-binder/bin',
      `drwxr-xr-x root:root /usr/share/doc/vif-ip-binder`,
      'lrwxrwxrwx root:root /etc/xapi.d/plugins/vif-ip-binder ../../../opt/vif-ip-binder/bin/vif-ip-binder',
      'lrwxrwxrwx root:root /etc/xapi.d/vif-hotplug ../../opt/vif-ip-binder/bin/vif-ip-binder',
      'lrwxrwxrwx root:root /usr/sbin/vif-ip-binder ../../opt/vif-ip-binder/bin/vif-ip-binder',
    ].sort(),
  )
})

test('the package carries the docs, a man page from the help text, and a oneshot boot unit in the vendor unit directory', async () => {
  const docs = (await execa('rpm', ['-qp', '--docfiles', RPM])).stdout.split('\n').sort()
  assert.deepEqual(docs, [
    `/usr/share/doc/vif-ip-binder/README.md`,
    `/usr/share/doc/vif-ip-binder/RECOVERY.md`,
    '/usr/share/man/man8/vif-ip-binder.8',
  ])
  const root = await hostRoot('docs', { foreignHook: false })
  await rpmOk(root, '-i', RPM)
  const recovery = readFileSync(join(root, `usr/share/doc/vif-ip-binder/RECOVERY.md`), 'utf8')
  assert.equal(recovery, readFileSync(RECOVERY, 'utf8'))
  for (const step of [
    'vif-ip-binder pause',
    'journalctl -t vif-ip-binder',
    "yum install --disablerepo='*'",
    'ip route replace default',
  ])
    assert.ok(recovery.includes(step), `RECOVERY.md tells ${step}`)

  // The man page renders without a warning and documents every function and argument `help` does.
  const man = await execa('groff', ['-man', '-Tutf8', '-ww', '-z', join(root, 'usr/share/man/man8/vif-ip-binder.8')], {
    reject: false,
  })
  assert.equal(man.exitCode, 0, man.stderr)
  assert.equal(man.stderr, '', 'groff has nothing to warn about')
  const text = (
    await execa(
      'man',
      ['--local-file', '--no-hyphenation', '--no-justification', join(root, 'usr/share/man/man8/vif-ip-binder.8')],
      { env: { MANWIDTH: '200', LC_ALL: 'C.UTF-8' } },
    )
  ).stdout
  for (const spec of FUNCTION_SPECS) {
    assert.match(text, new RegExp(`^ {3}${spec.name}$`, 'm'), `the man page has ${spec.name}`)
    for (const key of FUNCTION_KEYS[spec.name]!)
      assert.ok(text.includes(`${key}=`), `the man page names ${spec.name}'s ${key}`)
  }

  const unit = readFileSync(join(root, 'usr/lib/systemd/system/vif-ip-binder.service'), 'utf8')
  assert.equal(unit, UNIT_TEXT)
  assert.match(unit, /^Type=oneshot$/m)
  const timeout = Number(/^TimeoutStartSec=(\d+)$/m.exec(unit)?.[1])
  const longest = DEFAULT_BOOT_WAIT_SECONDS + GATEWAY_WAIT_BUDGET_S + DEFAULT_PLUG_TIMEOUT_SECONDS
  assert.ok(timeout > longest, `TimeoutStartSec=${timeout} outlasts the longest wait (${longest} s)`)
  assert.equal(
    existsSync(join(root, 'etc/systemd/system/vif-ip-binder.service')),
    false,
    'not in the admin unit directory',
  )
})

test("the scriptlets are Lua 5.1 (rpm 4.11's) using only what rpm 4.11 gives Lua", async () => {
  for (const tag of ['PREIN', 'POSTIN', 'PREUN', 'POSTUN']) {
    const script = await query(RPM, `%{${tag}}`)
    assert.ok(script.length > 50, `${tag} is there`)
    const syntax = await execa('luac5.1', ['-p', '-'], { input: script, reject: false })
    assert.equal(syntax.exitCode, 0, `${tag} is not Lua 5.1: ${syntax.stderr}`)
    const posix = [...new Set([...script.matchAll(/\bposix\.(\w+)/g)].map(m => m[1]!))]
    assert.deepEqual(
      posix.filter(name => !RPM_4_11_POSIX.includes(name)),
      [],
      `${tag} uses posix functions rpm 4.11 lacks`,
    )
    assert.doesNotMatch(
      script,
      /\brpm\.\w+/,
      `${tag}: the rpm Lua module of 4.11 has none of the newer helpers (rpm.execute, rpm.spawn)`,
    )
  }
})

describe('a host with a foreign vif-hotplug: install, hook, upgrade, erase', () => {
  let root = ''
  let initial: Record<string, TreeEntry> = {}
  before(async () => {
    root = await hostRoot('host', { foreignHook: true })
    initial = files(root)
  })

  test('rpm -i lays out the same tree as `vif-ip-binder install`, chains the foreign hook and enables the unit', async () => {
    await rpmOk(root, '-i', RPM)
    const installed = files(root)

    const executable = installed['opt/vif-ip-binder/bin/vif-ip-binder']
    assert.deepEqual(
      executable,
      snapshotTree(join(HOST_PLUGIN, '..'))['vif-ip-binder'],
      'the packaged executable is this build, mode 0755',
    )
    assert.deepEqual(
      installed['opt/vif-ip-binder/chained/vif-hotplug'],
      initial['etc/xapi.d/vif-hotplug'],
      'the foreign hook, moved aside byte for byte, mode kept',
    )
    assert.deepEqual(installed['etc/xapi.d/vif-hotplug'], {
      type: 'link',
      target: '../../opt/vif-ip-binder/bin/vif-ip-binder',
    })
    assert.deepEqual(installed['etc/xapi.d/plugins/vif-ip-binder'], {
      type: 'link',
      target: '../../../opt/vif-ip-binder/bin/vif-ip-binder',
    })
    assert.equal(readFileSync(join(root, 'usr/lib/systemd/system/vif-ip-binder.service'), 'utf8'), UNIT_TEXT)
    assert.deepEqual(installed['etc/systemd/system/multi-user.target.wants/vif-ip-binder.service'], {
      type: 'link',
      target: '/usr/lib/systemd/system/vif-ip-binder.service',
    })
    assert.equal(installed['etc/xapi.d/plugins/other-plugin']?.type, 'file', 'other plugins untouched')

    // The same starting tree, installed by hand: identical but for install's manifest.
    const byHand = tempDir('by-hand')
    for (const dir of DOM0_DIRS) mkdirSync(join(byHand, dir), { recursive: true })
    writeFileSync(join(byHand, 'etc/xapi.d/plugins/other-plugin'), 'keep me\n', { mode: 0o755 })
    writeFileSync(join(byHand, 'etc/xapi.d/vif-hotplug'), FOREIGN_HOOK)
    chmodSync(join(byHand, 'etc/xapi.d/vif-hotplug'), 0o750)
    const hand = await execa(HOST_PLUGIN, ['install', '--root', byHand], {
      env: { PATH: XAPI_PATH },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
    })
    assert.equal(hand.exitCode, 0, hand.stderr)
    const expected = snapshotTree(byHand)
    delete expected['opt/vif-ip-binder/install.json']
    // The package's own differences: the unit in the vendor unit directory, the man page
    // and the docs.
    delete expected['etc/systemd/system/vif-ip-binder.service']
    expected['etc/systemd/system/multi-user.target.wants/vif-ip-binder.service'] = {
      type: 'link',
      target: '/usr/lib/systemd/system/vif-ip-binder.service',
    }
    const packageOnly = (path: string) =>
      path.startsWith('usr/lib') || path.startsWith('usr/share') || path === 'usr/lib' || path === 'usr/share'
    for (const [path, entry] of Object.entries(installed)) if (packageOnly(path)) expected[path] = entry
    assert.deepEqual(installed, expected)

    const verify = await rpmIn(root, '-V', 'vif-ip-binder')
    assert.equal(verify.exitCode, 0, `rpm -V: ${verify.stdout}${verify.stderr}`)
    assert.equal(verify.stdout, '')
    await assertRunsOnDom0(join(root, 'opt/vif-ip-binder/bin/vif-ip-binder'))
  })

  test('the installed hook runs the foreign one, then starts its worker', async () => {
    const before = files(root)
    const hook = await execa(
      join(root, 'etc/xapi.d/vif-hotplug'),
      ['-action', 'online', '-vifuuid', VIF, '-vmuuid', VM],
      {
        env: { PATH: XAPI_PATH, VIF_IP_BINDER_ROOT: root },
        extendEnv: false,
        stdin: 'ignore',
        reject: false,
      },
    )
    assert.equal(hook.exitCode, 0, hook.stderr)
    assert.equal(
      readFileSync(join(root, 'var/log/foreign-hook.log'), 'utf8'),
      `foreign -action online -vifuuid ${VIF} -vmuuid ${VM}\n`,
    )

    // The worker finds no xapi here and says so; wait for it to be gone before going on.
    const log = join(root, 'var/log/vif-ip-binder.log')
    const deadline = Date.now() + 15_000
    let text = ''
    for (;;) {
      text = existsSync(log) ? readFileSync(log, 'utf8') : ''
      const worker = Number(/worker started .*"worker":(\d+)/.exec(text)?.[1])
      if (worker && /hotplug-worker failed .*XAPI_UNREACHABLE/.test(text) && !running(worker)) break
      assert.ok(Date.now() < deadline, `the worker did not finish:\n${text}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const after = files(root)
    const added = Object.keys(after)
      .filter(path => !(path in before))
      .sort()
    assert.deepEqual(
      added,
      ['var/log/foreign-hook.log', 'var/log/vif-ip-binder.log'],
      'the hook wrote its log, the foreign hook its file, nothing else',
    )
    for (const path of added) rmSync(join(root, path))
  })

  test('rpm -U moves an enabled unit of an older layout (/etc/systemd/system) to the vendor directory', async () => {
    const wants = join(root, 'etc/systemd/system/multi-user.target.wants/vif-ip-binder.service')
    rmSync(wants)
    symlinkSync('/etc/systemd/system/vif-ip-binder.service', wants)
    await rpmOk(root, '-U', '--force', RPM)
    assert.equal(readlinkSync(wants), '/usr/lib/systemd/system/vif-ip-binder.service')
  })

  test('rpm -U to a higher version keeps the state, the chained hook and the enabled unit', async () => {
    mkdirSync(join(root, 'var/lib/vif-ip-binder'), { mode: 0o755 })
    writeFileSync(join(root, 'var/lib/vif-ip-binder/state.json'), '{"kept":true}\n')
    const before = files(root)

    await rpmOk(root, '-U', nextRpm)
    assert.equal((await rpmOk(root, '-q', 'vif-ip-binder')).stdout, `vif-ip-binder-${rpmVersion(NEXT_SEMVER)}-1.x86_64`)
    // The man page names its version; everything else is as it was.
    const man = 'usr/share/man/man8/vif-ip-binder.8'
    assert.match(
      readFileSync(join(root, man), 'utf8'),
      new RegExp(`"vif-ip-binder ${rpmVersion(NEXT_SEMVER).replaceAll('.', '\\.')}"`),
    )
    const { [man]: _after, ...after } = files(root)
    const { [man]: _before, ...unchanged } = before
    assert.deepEqual(after, unchanged, 'the same tree: state, chained hook, links and unit link as they were')
    const verify = await rpmIn(root, '-V', 'vif-ip-binder')
    assert.equal(verify.exitCode, 0, `rpm -V: ${verify.stdout}${verify.stderr}`)
  })

  test('rpm -e puts the foreign hook back and leaves the tree as it was, state aside', async () => {
    await rpmOk(root, '-e', 'vif-ip-binder')
    assert.equal((await rpmIn(root, '-q', 'vif-ip-binder')).exitCode, 1, 'no longer installed')
    assert.equal(
      readFileSync(join(root, 'var/lib/vif-ip-binder/state.json'), 'utf8'),
      '{"kept":true}\n',
      'state survives removal',
    )
    rmSync(join(root, 'var/lib/vif-ip-binder'), { recursive: true })
    assert.deepEqual(files(root), initial)
  })
})

test('without a foreign hook: rpm -i then rpm -e leave no hook and the tree as it was', async () => {
  const root = await hostRoot('bare', { foreignHook: false })
  const initial = files(root)
  await rpmOk(root, '-i', RPM)
  assert.equal(existsSync(join(root, 'opt/vif-ip-binder/chained')), false, 'nothing to chain')
  assert.deepEqual(files(root)['etc/xapi.d/vif-hotplug'], {
    type: 'link',
    target: '../../opt/vif-ip-binder/bin/vif-ip-binder',
  })
  await rpmOk(root, '-e', 'vif-ip-binder')
  assert.deepEqual(files(root), initial)
})

test('a foreign hook with a chained one already there: %pre refuses and nothing is written', async () => {
  const root = await hostRoot('conflict', { foreignHook: true })
  mkdirSync(join(root, 'opt/vif-ip-binder/chained'), { recursive: true })
  writeFileSync(join(root, 'opt/vif-ip-binder/chained/vif-hotplug'), '#!/bin/sh\n', { mode: 0o755 })
  const initial = files(root)
  const result = await rpmIn(root, '-i', RPM)
  assert.notEqual(result.exitCode, 0)
  assert.match(result.stderr + result.stdout, /vif-hotplug and \/opt\/vif-ip-binder\/chained\/vif-hotplug both exist/)
  assert.equal((await rpmIn(root, '-q', 'vif-ip-binder')).exitCode, 1, 'not installed')
  assert.deepEqual(files(root), initial)
})
