/**
 * `${NAME}` and `${NAME:-fallback}` in YAML values, replaced from the environment. It works on
 * the parsed YAML tree, not the text, so a secret holding `#`, `: ` or a newline cannot change
 * the file's structure, and line and column numbers stay true.
 */
import type { ErrorObject } from 'ajv'
import { isMap, isScalar, isSeq, Scalar, type Document } from 'yaml'
import type { PathKey } from '../actions/types.js'
import { urlCredentials } from '../secrets/urls.js'

export interface EnvProblem {
  path: PathKey[]
  message: string
}

export interface EnvResult {
  /** Values that came from the environment into places that may hold secrets: masked everywhere. */
  secrets: string[]
  /** Every value that came from the environment: never read as template source. */
  literals: string[]
  problems: EnvProblem[]
  /**
   * Where a whole unquoted value was one `${NAME}` (e.g. `port: ${PORT}`). The value is a
   * string; if the schema wants a number or true/false there, the loader reads it as one.
   */
  wholeValues: PathKey[][]
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

export function substituteEnv(doc: Document, env: NodeJS.ProcessEnv): EnvResult {
  const result: EnvResult = { secrets: [], literals: [], problems: [], wholeValues: [] }
  walk(doc.contents, [], env, result)
  return result
}

function walk(node: unknown, path: PathKey[], env: NodeJS.ProcessEnv, result: EnvResult): void {
  if (isMap(node)) {
    for (const pair of node.items) walk(pair.value, [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)], env, result)
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(item, [...path, i], env, result))
  } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
    substituteScalar(node, path, env, result)
  }
}

function substituteScalar(node: Scalar, path: PathKey[], env: NodeJS.ProcessEnv, result: EnvResult): void {
  const source = node.value as string
  const value = source.replace(REFERENCE, (whole, name: string, fallback: string | undefined) => {
    const set = env[name]
    if (set !== undefined && (set !== '' || fallback === undefined)) {
      result.literals.push(set)
      result.secrets.push(...secretsOf(path, set))
      return set
    }
    if (fallback !== undefined) return fallback
    result.problems.push({ path, message: `environment variable ${name} is not set (set it, or write \${${name}:-default})` })
    return whole
  })
  node.value = value
  if (node.type === Scalar.PLAIN && new RegExp(`^${REFERENCE.source}$`).test(source)) result.wholeValues.push(path)
}

/** Settings such as HOST, PORT or the journal path are not secrets; hiding them would only garble the journal. */
const PLAIN_SETTINGS = ['server', 'journal.path', 'journal.retention_days', 'notify.email.from', 'notify.email.to']

/**
 * What of an environment value is secret: all of it, but nothing of a plain setting or a short
 * number, and of a URL (a base URL, an SMTP or database URL) only its credentials, so that the
 * journal still shows which server was called. Under a secret-named key a URL is secret whole
 * (config/load.ts learns everything under such a key).
 */
function secretsOf(path: PathKey[], value: string): string[] {
  const dotted = path.filter((k) => typeof k === 'string').join('.')
  if (PLAIN_SETTINGS.some((p) => dotted === p || dotted.startsWith(`${p}.`))) return []
  if (SHORT_NUMBER.test(value)) return []
  return urlCredentials(value) ?? [value]
}

/**
 * A number of up to five digits (a port, a day count) is left readable: masking it would blot
 * out every such number in the journal. A longer one (an account id used as a key) is masked.
 */
const SHORT_NUMBER = /^\d{1,5}$/

/**
 * Where validation failed only because a whole `${NAME}` value is text, reads it as the number
 * or true/false the schema asks for. Returns true when it changed anything (validate again).
 */
export function typeWholeValues(errors: readonly ErrorObject[], data: unknown, wholeValues: readonly PathKey[][]): boolean {
  const pointers = new Map(wholeValues.map((path) => [path.map((k) => `/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`).join(''), path]))
  let changed = false
  for (const err of errors) {
    const path = err.keyword === 'type' ? pointers.get(err.instancePath) : undefined
    if (!path) continue
    const wanted = ([] as string[]).concat(err.params['type'] as string | string[])
    const typed = readAs(err.data, wanted)
    if (typed === undefined) continue
    const parent = path.slice(0, -1).reduce<any>((node, key) => node?.[key], data)
    parent[path.at(-1)!] = typed
    changed = true
  }
  return changed
}

function readAs(text: unknown, wanted: string[]): number | boolean | undefined {
  if (typeof text !== 'string') return undefined
  if (wanted.includes('boolean') && (text === 'true' || text === 'false')) return text === 'true'
  if (wanted.includes('integer') && /^-?\d+$/.test(text)) return Number(text)
  if (wanted.includes('number') && /^-?\d+(\.\d+)?$/.test(text)) return Number(text)
  return undefined
}
