// A failed Test as xo-web shows it is a one-paragraph message plus, as `data`, each binding
// needing attention with its problem lines. Tests match on all of it as one text, with the
// plain quotes of the report (`data` has typographic ones for xo-web's JSON block) and
// each problem's wrapped pieces joined again.

import assert from 'node:assert/strict'

export function failureText(error: unknown): string {
  const { message, data } = error as { message: string; data?: Record<string, string[]> }
  const lines = Object.entries(data ?? {}).flatMap(([label, problems]) => [label, ...problems])
  return [message, ...lines]
    .join('\n')
    .replace(/\n {2}/g, '')
    .replace(/[“”]/g, '"')
}

/** For `assert.rejects`: the failed Test's whole text matches. */
export function failureMatching(pattern: RegExp): (error: unknown) => boolean {
  return error => {
    assert.match(failureText(error), pattern)
    return true
  }
}
