/** Success patterns such as "2**" or "2**,409": which upstream statuses count as success. */

const PART = /^[1-5*][0-9*][0-9*]$/

export interface StatusPattern {
  readonly source: string
  matches(status: number): boolean
}

/** Parses a pattern; throws an Error that says what is allowed. */
export function parseStatusPattern(source: string): StatusPattern {
  const parts = source.split(',').map((p) => p.trim())
  const bad = parts.find((p) => !PART.test(p))
  if (bad !== undefined) {
    throw new Error(`'${bad}' is not a status pattern (allowed: three characters of digits and '*', comma-separated, e.g. "2**,409")`)
  }
  const regexes = parts.map((p) => new RegExp(`^${p.replace(/\*/g, '\\d')}$`))
  return { source: parts.join(','), matches: (status) => regexes.some((r) => r.test(String(status))) }
}
