/**
 * Config problems and how they read: `config.yaml:9:9 pipelines[0].actions[0]: unknown key
 * 'methd' (allowed: method, url, ...)`. ajv's errors are turned into such lines, each placed
 * at its YAML node.
 */
import type { ErrorObject } from 'ajv'
import { isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml'
import type { PathKey } from '../actions/types.js'
import { HookrelayError } from '../errors.js'
import { SOURCE_TYPES } from './schema.js'

export interface Problem {
  path: readonly PathKey[]
  message: string
  /** For an unknown key: place the problem at that key rather than at its object. */
  key?: string | undefined
}

export interface LocatedProblem extends Problem {
  line: number
  col: number
  text: string
}

/** The config could not be loaded; `problems` holds one line each, already located. */
export class ConfigError extends HookrelayError {
  /** `problems` are located lines; `heading`, when given, is the line said before them instead of a count. */
  constructor(
    readonly problems: string[],
    readonly heading?: string,
  ) {
    super('HR_CONFIG_INVALID', problems.join('\n'))
    this.name = 'ConfigError'
  }
}

/** `pipelines[0].headers["X-Token"]` */
export function formatPath(path: readonly PathKey[]): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

/** Places problems in the file and renders their lines, sorted by position. */
export function locateProblems(
  problems: readonly Problem[],
  file: string,
  doc: Document,
  lines: LineCounter,
  data: unknown,
): LocatedProblem[] {
  const seen = new Set<string>()
  const located: LocatedProblem[] = []
  for (const p of problems) {
    const { line, col } = lines.linePos(offsetOf(doc, p.path, p.key))
    const where = formatPath(p.path) || '(top level)'
    const text = `${file}:${line}:${col} ${where}: ${p.message}${pipelineNote(p.path, data)}`
    if (seen.has(text)) continue
    seen.add(text)
    located.push({ ...p, line, col, text })
  }
  return located.sort((a, b) => a.line - b.line || a.col - b.col)
}

function pipelineNote(path: readonly PathKey[], data: unknown): string {
  if (path[0] !== 'pipelines' || typeof path[1] !== 'number' || path.length < 3 || (path.length === 3 && path[2] === 'id')) return ''
  const id = (data as { pipelines?: Array<{ id?: unknown }> } | undefined)?.pipelines?.[path[1]]?.id
  return typeof id === 'string' ? ` in pipeline '${id}'` : ''
}

/** The offset of the node at `path` (or of `key` inside it), falling back to the nearest parent. */
function offsetOf(doc: Document, path: readonly PathKey[], key?: string): number {
  let node: unknown = doc.contents
  let offset = rangeStart(node) ?? 0
  for (const seg of [...path, ...(key === undefined ? [] : [key])]) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg))
      if (!pair) break
      const keyStart = rangeStart(pair.key)
      if (seg === key && keyStart !== undefined) return keyStart
      node = pair.value
      offset = rangeStart(node) ?? keyStart ?? offset
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      node = node.items[seg]
      offset = rangeStart(node) ?? offset
    } else break
  }
  return offset
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null)?.range?.[0]
}

/** Turns ajv's errors into problems, one per real mistake; `actionTypes` are listed for a bad `type`. */
export function schemaProblems(errors: readonly ErrorObject[], data: unknown, actionTypes: readonly string[]): Problem[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf')
  const out: Problem[] = []
  for (const err of errors) {
    const parent = anyOfs.find((a) => a !== err && err.schemaPath.startsWith(`${a.schemaPath}/`))
    // Inside a union: keep only errors that say more than "wrong type" of the union's own value.
    if (parent && err.instancePath === parent.instancePath && ['type', 'const', 'enum', 'anyOf'].includes(err.keyword)) continue
    if (err.keyword === 'anyOf' && errors.some((e) => e !== err && e.schemaPath.startsWith(`${err.schemaPath}/`) && !isShallow(e, err))) continue
    out.push(toProblem(err, data, actionTypes))
  }
  return out
}

function isShallow(child: ErrorObject, anyOf: ErrorObject): boolean {
  return child.instancePath === anyOf.instancePath && ['type', 'const', 'enum', 'anyOf'].includes(child.keyword)
}

function toProblem(err: ErrorObject, data: unknown, actionTypes: readonly string[]): Problem {
  const path = pointerToPath(err.instancePath, data)
  const schema = (err.parentSchema ?? {}) as { hint?: string; properties?: Record<string, unknown> }
  const params = err.params as Record<string, unknown>
  const found = describe(err.data)
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty'])
      return { path, key, message: `unknown key '${key}' (allowed: ${Object.keys(schema.properties ?? {}).join(', ')})` }
    }
    case 'required':
      return { path, message: `missing key '${String(params['missingProperty'])}'` }
    case 'type':
      return { path, message: `found ${found}, expected ${typeName(String(params['type']))}` }
    case 'enum':
      return { path, message: `found ${found} (allowed: ${(params['allowedValues'] as unknown[]).join(', ')})` }
    case 'discriminator':
      return { path: params['error'] === 'mapping' ? [...path, 'type'] : path, message: discriminatorMessage(params, path.at(-1) === 'source' ? SOURCE_KIND : { name: 'action', types: actionTypes }) }
    default:
      return { path, message: schema.hint ? `found ${found}, expected ${schema.hint}` : `found ${found}, which ${err.message ?? 'is not allowed here'}` }
  }
}

const SOURCE_KIND = { name: 'source', types: SOURCE_TYPES }

function discriminatorMessage(params: Record<string, unknown>, kind: { name: string; types: readonly string[] }): string {
  const allowed = kind.types.join(', ')
  if (params['error'] === 'mapping') return `unknown ${kind.name} type '${String(params['tagValue'])}' (allowed: ${allowed})`
  return `missing key 'type' (allowed: ${allowed})`
}

function pointerToPath(pointer: string, data: unknown): PathKey[] {
  const path: PathKey[] = []
  let node = data
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    const key: PathKey = Array.isArray(node) ? Number(seg) : seg
    path.push(key)
    node = (node as Record<string, unknown> | undefined)?.[key as string]
  }
  return path
}

function typeName(type: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    integer: 'a whole number',
    number: 'a number',
    boolean: 'true or false',
    object: 'a map of keys',
    array: 'a list',
  }
  return type.split(',').map((t) => names[t] ?? t).join(' or ')
}

/** How a found value reads in a message. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  // A long text is not quoted at all: a cut could leave part of a secret that masking no longer recognises.
  if (typeof value === 'string') return value.length > 60 ? `a text of ${value.length} characters` : `'${value}'`
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return `a map (${Object.keys(value).join(', ')})`
  return String(value)
}
