/**
 * `${NAME}` and `${NAME:-fallback}` in YAML values, replaced from the environment. It works on
 * the parsed YAML tree, not the text, so a secret holding `#`, `: ` or a newline cannot change
 * the file's structure, and line and column numbers stay true.
 */
import { isMap, isScalar, isSeq, Scalar, type Document } from 'yaml'
import type { PathKey } from '../actions/types.js'

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
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

export function substituteEnv(doc: Document, env: NodeJS.ProcessEnv): EnvResult {
  const result: EnvResult = { secrets: [], literals: [], problems: [] }
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
      if (maySecret(path, set)) result.secrets.push(set)
      return set
    }
    if (fallback !== undefined) return fallback
    result.problems.push({ path, message: `environment variable ${name} is not set (set it, or write \${${name}:-default})` })
    return whole
  })
  // A plain `port: ${PORT}` reads as the number it holds, as if it had been written there.
  const whole = new RegExp(`^${REFERENCE.source}$`).test(source)
  node.value = node.type === Scalar.PLAIN && whole ? plainValue(value) : value
}

/** Settings such as HOST, PORT or the journal path are not secrets; hiding them would only garble the journal. */
const PLAIN_SETTINGS = ['server', 'journal.path', 'journal.retention_days', 'notify.email.from', 'notify.email.to']

function maySecret(path: PathKey[], value: string): boolean {
  const dotted = path.filter((k) => typeof k === 'string').join('.')
  if (PLAIN_SETTINGS.some((p) => dotted === p || dotted.startsWith(`${p}.`))) return false
  return !/^\d+$/.test(value)
}

function plainValue(text: string): string | number | boolean {
  if (text === 'true' || text === 'false') return text === 'true'
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text)
  return text
}
