// npm run package: the RPM that puts the host plugin on an XCP-ng host with `yum install`,
// and dist/xo-server-vif-ip-binder-<version>.tgz, the XO plugin for `npm install --global`.
//
//   node --import tsx scripts/package.ts [--version V] [--outdir DIR]   (--outdir: the RPM's)
//
// The payload is laid out by the host plugin's own install (xapi-plugin/functions/install.ts) into a
// staging tree, so the package and `vif-ip-binder install` cannot drift apart: same paths,
// same relative links, the same unit text. Its manifest stays out (rpm keeps its own) and
// so does the multi-user.target.wants link (the spec's %post makes it, as install does).
// rpmbuild then packs that tree with packaging/vif-ip-binder.spec, every path and value
// passed explicitly, nothing taken from the build machine's rpm configuration.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, utimesSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import { manPage } from '../xapi-plugin/entry/help.ts'
import { install } from '../xapi-plugin/functions/install.ts'
import { packXoPlugin } from './package-xo.ts'
import { MANIFEST, UNIT_WANTS } from '../xapi-plugin/runtime/layout.ts'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
export const SPEC = join(REPO, 'packaging/vif-ip-binder.spec')
export const EXECUTABLE = join(REPO, 'dist/xapi-plugin/vif-ip-binder')
export const DEFAULT_OUTDIR = join(REPO, 'dist/rpm')
/** What the package is made of: a package older than any of these is stale. */
export const PACKAGE_INPUTS = [
  EXECUTABLE,
  SPEC,
  join(REPO, 'scripts/package.ts'),
  join(REPO, 'xapi-plugin/functions/install.ts'),
  join(REPO, 'xapi-plugin/entry/help.ts'),
  join(REPO, 'shared/function-spec.ts'),
  join(REPO, 'README.md'),
  join(REPO, 'packaging/RECOVERY.md'),
  join(REPO, 'package.json'),
]

export const RECOVERY = join(REPO, 'packaging/RECOVERY.md')
export const MAN_PAGE = 'usr/share/man/man8/vif-ip-binder.8'
export const DOC_DIR = 'usr/share/doc/vif-ip-binder'

/** What the package carries besides the installed tree: the man page and the docs. */
function stageDocs(stage: string, version: string, date: Date): void {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
  const docs = join(stage, DOC_DIR)
  mkdirSync(docs, { recursive: true })
  writeFileSync(join(docs, 'README.md'), readme)
  // The README's "Locked out?" section is this file (npm run readme copies it there).
  writeFileSync(join(docs, 'RECOVERY.md'), readFileSync(RECOVERY, 'utf8'))
  mkdirSync(join(stage, dirname(MAN_PAGE)), { recursive: true })
  writeFileSync(join(stage, MAN_PAGE), manPage(version, date.toISOString().slice(0, 10)))
}

interface PackageJson {
  version: string
  license: string
  homepage?: string
}

/** rpm has no "-" in versions: a semver pre-release sorts before its release with "~". */
export function rpmVersion(semver: string): string {
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(semver))
    throw new Error(`not a semver: ${JSON.stringify(semver)}`)
  const [main = '', build] = semver.split('+')
  const dash = main.indexOf('-')
  const version = dash < 0 ? main : `${main.slice(0, dash)}~${main.slice(dash + 1).replaceAll('-', '.')}`
  return build ? `${version}+${build}` : version
}

export function rpmFileName(version: string): string {
  return `vif-ip-binder-${version}-1.x86_64.rpm`
}

/** %changelog's date: "Thu Nov 21 2024", in UTC, SOURCE_DATE_EPOCH when set. */
function changelogDate(): string {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH)
  const date = Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date()
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
  return `${days[date.getUTCDay()]} ${months[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, '0')} ${date.getUTCFullYear()}`
}

export interface BuildOptions {
  /** A semver; package.json's by default. */
  version?: string
  outdir?: string
}

export async function buildRpm(options: BuildOptions = {}): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as PackageJson
  const version = rpmVersion(options.version ?? pkg.version)
  const outdir = resolve(options.outdir ?? DEFAULT_OUTDIR)
  if (!existsSync(EXECUTABLE)) {
    await execa(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/build.ts')], { cwd: REPO, stdio: 'inherit' })
  }
  mkdirSync(outdir, { recursive: true })
  const work = join(outdir, `.build-${process.pid}`)
  rmSync(work, { recursive: true, force: true })
  try {
    // The package is as old as its inputs at staging time: an input changed while rpmbuild
    // ran makes it stale, not fresh.
    const staged = new Date()
    const stage = join(work, 'stage')
    mkdirSync(stage, { recursive: true })
    install(stage, EXECUTABLE, { vendorUnit: true })
    stageDocs(stage, version, staged)
    rmSync(join(stage, MANIFEST))
    rmSync(join(stage, UNIT_WANTS))
    rmdirSync(join(stage, dirname(UNIT_WANTS)))

    const target = join(outdir, rpmFileName(version))
    for (const name of readdirSync(outdir)) {
      if (/^vif-ip-binder-.*\.x86_64\.rpm$/.test(name)) rmSync(join(outdir, name))
    }
    for (const dir of ['top', 'build', 'buildroot', 'tmp']) mkdirSync(join(work, dir), { recursive: true })
    const define = (name: string, value: string) => ['--define', `${name} ${value}`]
    await execa(
      'rpmbuild',
      [
        '-bb',
        '--quiet',
        ...define('_topdir', join(work, 'top')),
        ...define('_builddir', join(work, 'build')),
        ...define('_buildrootdir', join(work, 'buildroot')),
        ...define('_tmppath', join(work, 'tmp')),
        ...define('_sourcedir', join(work, 'top')),
        ...define('_srcrpmdir', join(work, 'top')),
        ...define('_rpmdir', outdir),
        ...define('_rpmfilename', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm'),
        ...define('pkg_version', version),
        ...define('pkg_license', pkg.license),
        ...(pkg.homepage ? define('pkg_url', pkg.homepage) : []),
        ...define('changelog_date', changelogDate()),
        ...define('stage_dir', stage),
        SPEC,
      ],
      { cwd: REPO, env: { LC_ALL: 'C' }, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit' },
    )
    if (!existsSync(target)) throw new Error(`rpmbuild finished without ${target}`)
    utimesSync(target, staged, staged)
    if (!pkg.homepage) console.warn('package.json has no "homepage": the package has no URL tag')
    return target
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { version: { type: 'string' }, outdir: { type: 'string' } } })
  const built = await buildRpm({
    ...(values.version ? { version: values.version } : {}),
    ...(values.outdir ? { outdir: values.outdir } : {}),
  })
  const shown = (path: string) => (path.startsWith(REPO + '/') ? path.slice(REPO.length + 1) : path)
  console.log(`built ${shown(built)}`)
  console.log(`built ${shown(await packXoPlugin(REPO, join(REPO, 'dist')))}`)
}
