// install / uninstall: put the executable in place on a host, and take it away again
// leaving the host exactly as it was.
//
//   /opt/vif-ip-binder/bin/vif-ip-binder            the executable
//   /etc/xapi.d/plugins/vif-ip-binder  -> it        host.call_plugin finds it here
//   /etc/xapi.d/vif-hotplug            -> it        xapi's only dom0 hook on VIF plug
//   /usr/sbin/vif-ip-binder            -> it        the command at the console
//   /etc/systemd/system/vif-ip-binder.service       boot mode, after xapi (the RPM: /usr/lib/…)
//   /etc/systemd/system/multi-user.target.wants/…   "enabled", as systemctl would link it
//
// A vif-hotplug that was there before is kept: moved aside and run by ours. Every path
// install creates is written to a manifest, so uninstall removes exactly those and moves
// the old hook back. Links are relative, so a tree installed under --root works as is.

import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { BinderError, ErrorCode } from '../../shared/errors.ts'
import {
  CHAINED_HOOK,
  COMMAND_LINK,
  EXECUTABLE,
  HOOK,
  MANIFEST,
  PLUGIN_LINK,
  UNIT,
  UNIT_WANTS,
  VENDOR_UNIT,
} from '../runtime/layout.ts'
import { BOOT_START_TIMEOUT_SECONDS } from './boot.ts'
import { exists, isOurLink } from './installed-parts.ts'
import { run } from '../runtime/run.ts'

export const UNIT_TEXT = `[Unit]
Description=vif-ip-binder: bind dom0 to the firewall VM's network at boot
After=xapi.service xapi-init-complete.target
Wants=xapi.service

[Service]
# Waits for the local xapi (bounded), then rescues a disabled host if the pool's
# configuration opts in, and applies the bindings of the VMs running here. One run per
# boot; the time-out outlasts its longest wait (xapi, then a silent gateway, then storage).
Type=oneshot
RemainAfterExit=yes
TimeoutStartSec=${BOOT_START_TIMEOUT_SECONDS}
ExecStart=/${EXECUTABLE} boot

[Install]
WantedBy=multi-user.target
`

interface Manifest {
  version: 1
  /** Paths (relative to the root) install created, in creation order. */
  created: string[]
  /** Set when a foreign vif-hotplug was moved aside to be chained. */
  chainedHook: boolean
}

export interface InstallResult {
  root: string
  executable: string
  created: string[]
  chainedHook: boolean
  upgraded: boolean
}

function readManifest(root: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(root, MANIFEST), 'utf8')) as Manifest
  } catch {
    return undefined
  }
}

function failure(message: string, path: string): BinderError {
  return new BinderError(ErrorCode.COMMAND_FAILED, message, [path])
}

export interface InstallOptions {
  /** The RPM's layout: the boot unit in the vendor unit directory rather than the admin's. */
  vendorUnit?: boolean
}

/** Refuses before anything is written: a half-done install is worse than none. */
function refuseConflicts(root: string): void {
  const plugin = join(root, PLUGIN_LINK)
  if (exists(plugin) && !isOurLink(root, PLUGIN_LINK))
    throw failure(`${plugin} exists and is not vif-ip-binder's: not touching it`, plugin)
  if (exists(join(root, HOOK)) && !isOurLink(root, HOOK) && exists(join(root, CHAINED_HOOK))) {
    throw failure(`${join(root, HOOK)} and a chained hook both exist: resolve by hand`, join(root, HOOK))
  }
}

export function install(root: string, source: string, { vendorUnit = false }: InstallOptions = {}): InstallResult {
  refuseConflicts(root)
  const previous = readManifest(root)
  const manifest: Manifest = previous ?? { version: 1, created: [], chainedHook: false }
  const created = (path: string) => {
    if (!manifest.created.includes(path)) manifest.created.push(path)
  }
  const ensureDir = (path: string) => {
    const missing: string[] = []
    for (let dir = path; dir !== '.' && !exists(join(root, dir)); dir = dirname(dir)) missing.unshift(dir)
    for (const dir of missing) {
      mkdirSync(join(root, dir), { mode: 0o755 })
      created(dir)
    }
  }
  const link = (path: string) => {
    const full = join(root, path)
    if (isOurLink(root, path)) return
    if (exists(full)) throw failure(`${full} exists and is not vif-ip-binder's: not touching it`, full)
    ensureDir(dirname(path))
    symlinkSync(relative(dirname(full), join(root, EXECUTABLE)), full)
    created(path)
  }

  // The executable first: copied under a temporary name, then renamed over any older one,
  // so a running hook never sees half a file.
  ensureDir(dirname(EXECUTABLE))
  const target = join(root, EXECUTABLE)
  const upgraded = exists(target)
  copyFileSync(source, `${target}.new`)
  chmodSync(`${target}.new`, 0o755)
  renameSync(`${target}.new`, target)
  created(EXECUTABLE)

  link(PLUGIN_LINK)
  link(COMMAND_LINK)

  const hook = join(root, HOOK)
  if (exists(hook) && !isOurLink(root, HOOK)) {
    ensureDir(dirname(CHAINED_HOOK))
    renameSync(hook, join(root, CHAINED_HOOK))
    manifest.chainedHook = true
  }
  link(HOOK)

  const unit = vendorUnit ? VENDOR_UNIT : UNIT
  ensureDir(dirname(unit))
  if (!exists(join(root, unit))) created(unit)
  writeFileSync(join(root, unit), UNIT_TEXT, { mode: 0o644 })
  const wants = join(root, UNIT_WANTS)
  if (!exists(wants)) {
    ensureDir(dirname(UNIT_WANTS))
    symlinkSync(`/${unit}`, wants)
    created(UNIT_WANTS)
  }

  created(MANIFEST)
  writeFileSync(join(root, MANIFEST), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o644 })
  return { root, executable: target, created: manifest.created, chainedHook: manifest.chainedHook, upgraded }
}

export interface UninstallResult {
  root: string
  removed: string[]
  restoredHook: boolean
}

export function uninstall(root: string): UninstallResult {
  const manifest = readManifest(root)
  if (!manifest) return { root, removed: [], restoredHook: false }
  const removed: string[] = []
  // Files and links first, newest first, then the old hook back, then the directories we
  // made, deepest first, and only if nothing else was put in them since.
  const created = [...manifest.created].reverse()
  for (const path of created) {
    const full = join(root, path)
    if (!exists(full) || (lstatSync(full).isDirectory() && !lstatSync(full).isSymbolicLink())) continue
    if ((path === HOOK || path === PLUGIN_LINK || path === COMMAND_LINK) && !isOurLink(root, path)) continue // replaced by someone since
    rmSync(full)
    removed.push(path)
  }
  let restoredHook = false
  if (manifest.chainedHook && exists(join(root, CHAINED_HOOK)) && !exists(join(root, HOOK))) {
    renameSync(join(root, CHAINED_HOOK), join(root, HOOK))
    restoredHook = true
  }
  for (const path of created) {
    const full = join(root, path)
    if (exists(full) && lstatSync(full).isDirectory() && readdirSync(full).length === 0) {
      rmdirSync(full)
      removed.push(path)
    }
  }
  return { root, removed, restoredHook }
}

/** On a real host, systemd must re-read its units; under --root there is no systemd to tell. */
export async function reloadSystemd(): Promise<void> {
  await run('systemctl', ['daemon-reload'])
}
