/**
 * JSON paths for `json.parse`: the seed's bracket form `["raw"][1]["q"]` and the dotted form
 * `raw[1].q`, read by a small hand-written parser. Nothing is ever evaluated, and a lookup
 * only follows an object's own properties, so `__proto__` or `constructor` reach nothing.
 */

export type PathSegment = string | number

export class JsonPathError extends Error {
  override name = 'JsonPathError'
}

const IDENT = /[^.[\]"'\s]/

/** Parses a path; throws JsonPathError naming the column of the first problem. */
export function parsePath(source: string): PathSegment[] {
  const segments: PathSegment[] = []
  let i = source.startsWith('$') ? 1 : 0
  const fail = (what: string): never => {
    throw new JsonPathError(`path '${source}': ${what} at column ${i + 1}`)
  }

  while (i < source.length) {
    const ch = source[i]
    if (ch === '[') {
      i = skipSpaces(source, i + 1)
      const q = source[i]
      if (q === '"' || q === "'") {
        const [text, end] = readQuoted(source, i, fail)
        segments.push(text)
        i = end
      } else {
        const digits = /^\d+/.exec(source.slice(i))?.[0] ?? fail('expected a quoted key or an index')
        segments.push(Number(digits))
        i += digits.length
      }
      i = skipSpaces(source, i)
      if (source[i] !== ']') fail("expected ']'")
      i++
    } else if (ch === '.' || segments.length === 0) {
      if (ch === '.') i++
      const start = i
      while (i < source.length && IDENT.test(source[i] ?? '')) i++
      if (i === start) fail('expected a key name')
      segments.push(source.slice(start, i))
    } else {
      fail(`unexpected ${JSON.stringify(ch)}`)
    }
  }
  if (segments.length === 0) fail('the path is empty')
  return segments
}

function skipSpaces(source: string, i: number): number {
  while (source[i] === ' ') i++
  return i
}

/** Reads a quoted key starting at `start`; JSON escapes are allowed inside double quotes. */
function readQuoted(source: string, start: number, fail: (what: string) => never): [string, number] {
  const quoteChar = source[start]
  let i = start + 1
  let raw = ''
  while (i < source.length && source[i] !== quoteChar) {
    if (source[i] === '\\') {
      raw += source.slice(i, i + 2)
      i += 2
    } else {
      raw += source[i]
      i++
    }
  }
  if (i >= source.length) fail('unterminated quoted key')
  if (quoteChar === "'") return [raw.replace(/\\(.)/g, '$1'), i + 1]
  try {
    return [JSON.parse(`"${raw}"`) as string, i + 1]
  } catch {
    return fail('bad escape in quoted key')
  }
}

/** Follows `path` through own properties and array indexes. */
export function lookup(value: unknown, path: readonly PathSegment[]): { found: boolean; value?: unknown } {
  let current = value
  for (const segment of path) {
    if (Array.isArray(current)) {
      const index = typeof segment === 'number' ? segment : /^\d+$/.test(segment) ? Number(segment) : -1
      if (index < 0 || index >= current.length) return { found: false }
      current = current[index]
    } else if (typeof current === 'object' && current !== null) {
      const key = String(segment)
      if (!Object.hasOwn(current, key)) return { found: false }
      current = (current as Record<string, unknown>)[key]
    } else {
      return { found: false }
    }
  }
  return { found: true, value: current }
}

/** The bracket form of a path, as the seed writes it: `["raw"][1]["q"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  return path.map((s) => (typeof s === 'number' ? `[${s}]` : `[${JSON.stringify(s)}]`)).join('')
}
