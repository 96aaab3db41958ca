// What dom0 needs of an ELF: x86-64, the usual dynamic loader, and no glibc symbol
// version newer than CentOS 7's 2.17. Shared by the build's check and the RPM's.

import assert from 'node:assert/strict'
import { execa } from 'execa'

export const DOM0_GLIBC = { major: 2, minor: 17 }

/** Every GLIBC_x.y version the file's dynamic symbols need (objdump -T). */
export async function glibcVersions(path: string): Promise<string[]> {
  const symbols = await execa('objdump', ['-T', path])
  return [...new Set(symbols.stdout.match(/GLIBC_[0-9.]+/g) ?? [])].sort()
}

function newerThanDom0(version: string): boolean {
  const [major = 0, minor = 0] = version.slice('GLIBC_'.length).split('.').map(Number)
  return major > DOM0_GLIBC.major || (major === DOM0_GLIBC.major && minor > DOM0_GLIBC.minor)
}

/** Asserts the file is an x86-64 ELF dom0's glibc 2.17 and loader can run. */
export async function assertRunsOnDom0(path: string): Promise<void> {
  const header = await execa('objdump', ['-f', path])
  assert.match(header.stdout, /file format elf64-x86-64/, `${path} is not an x86-64 ELF`)
  const versions = await glibcVersions(path)
  assert.ok(versions.length > 0, `objdump found no versioned glibc symbols in ${path}: the check would prove nothing`)
  const tooNew = versions.filter(newerThanDom0)
  assert.deepEqual(tooNew, [], `${path} needs ${tooNew.join(', ')}`)
  const program = await execa('readelf', ['-l', path])
  assert.match(program.stdout, /\/lib64\/ld-linux-x86-64\.so\.2/, `${path} does not use /lib64/ld-linux-x86-64.so.2`)
}
