// What `push` would change: the saved configuration against the file's, line by line over
// their canonical JSON (keys sorted), so reordered keys are no change.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

function canonical(value: unknown): Json {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonical(v)]))
  }
  return value as Json
}

function lines(value: unknown): string[] {
  return value === undefined ? [] : JSON.stringify(canonical(value), null, 2).split('\n')
}

/** `- old` / `+ new` / `  same` lines (longest common subsequence); empty when equal. */
export function configDiff(before: unknown, after: unknown): string[] {
  const a = lines(before)
  const b = lines(after)
  const common = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i]![j] = a[i] === b[j] ? common[i + 1]![j + 1]! + 1 : Math.max(common[i + 1]![j]!, common[i]![j + 1]!)
    }
  }
  const out: string[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i]}`)
      i++
      j++
    } else if (j < b.length && (i === a.length || common[i]![j + 1]! >= common[i + 1]![j]!)) out.push(`+ ${b[j++]}`)
    else out.push(`- ${a[i++]}`)
  }
  return out.some(line => !line.startsWith('  ')) ? out : []
}
