// The failed tests of a node:test TAP stream, one line each, so that the end of a CI log
// says at once what failed: file, the test's full name, and its first error line with the
// line of the test file it came from.

export interface TapFailure {
  file: string
  name: string
  error: string
  /** `file:line` of the first stack frame in a test file, when there is one. */
  at?: string
}

interface Open {
  indent: number
  name: string
}

function yamlBlock(lines: string[], from: number): { fields: Record<string, string>; end: number } {
  const fields: Record<string, string> = {}
  let i = from + 1
  let key = ''
  for (; i < lines.length && lines[i]!.trim() !== '...'; i++) {
    const line = lines[i]!.trim()
    const field = /^(\w+): (.*)$/.exec(line)
    if (field) {
      key = field[1]!
      fields[key] = field[2] === '|-' ? '' : field[2]!.replace(/^'(.*)'$/, '$1')
    } else if (key) fields[key] += (fields[key] ? '\n' : '') + line
  }
  return { fields, end: i }
}

export function tapFailures(tap: string): TapFailure[] {
  const lines = tap.split('\n')
  const open: Open[] = []
  const failures: TapFailure[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const indent = line.length - line.trimStart().length
    const subtest = /^\s*# Subtest: (.*)$/.exec(line)
    if (subtest) {
      while (open.length && open.at(-1)!.indent >= indent) open.pop()
      open.push({ indent, name: subtest[1]! })
      continue
    }
    if (!/^\s*not ok \d+ - /.test(line) || lines[i + 1]?.trim() !== '---') continue
    const { fields, end } = yamlBlock(lines, i + 1)
    i = end
    while (open.length && open.at(-1)!.indent > indent) open.pop()
    const name = open.map(o => o.name).join(' › ')
    if (fields.failureType === 'subtestsFailed') continue
    const file = (fields.location ?? '').replace(/:\d+:\d+$/, '')
    const frame = (fields.stack ?? '').split('\n').find(f => /\.test\.ts:\d+/.test(f))
    const at = /([^\s(]+\.test\.ts:\d+)/.exec(frame ?? '')?.[1]
    const words = (fields.error ?? '').split('\n').filter(l => l.trim())
    const error = words.slice(0, 2).join(' ').trim() || fields.failureType || 'failed'
    failures.push({ file, name, error, at })
  }
  return failures
}

export function describeFailures(failures: TapFailure[], repo: string): string {
  const short = (path: string) => (path.startsWith(`${repo}/`) ? path.slice(repo.length + 1) : path)
  return failures
    .map(f => `✖ ${short(f.file)} › ${f.name}\n    ${f.error}${f.at ? `\n    at ${short(f.at)}` : ''}`)
    .join('\n')
}
