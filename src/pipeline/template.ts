/**
 * Templates: liquidjs in strict mode, compiled once at load, rendered per run.
 *
 * Incoming data is only ever a value in the scope, never template source, so template syntax
 * inside a request is printed as text. Environment values that contain template syntax are
 * kept literal too (see `literals`).
 */
import { randomInt, randomUUID } from 'node:crypto'
import { Context, Liquid, Output, Tag, TokenKind, Value, toValueSync, type Template as LiquidTemplate } from 'liquidjs'
import { closest, distance } from 'fastest-levenshtein'
import { hookrelayError } from '../errors.js'

/** The names a template may read; `error` only exists in a source's `on_error` answer. */
export const RUN_NAMES = ['in', 'request', 'steps', 'run', 'pipeline', 'now'] as const
export const ERROR_NAMES = [...RUN_NAMES, 'error'] as const

export type Scope = Record<string, unknown>

/** What a template needs to know about where it stands, for load-time checks and messages. */
export interface CompileOptions {
  where: string // the key path in the config, e.g. pipelines[0].actions[1].url
  names?: readonly string[] // allowed root names, default RUN_NAMES
  earlierSteps?: readonly string[] // action ids a template may read as steps.<id>
  known?: KnownNames
}

/** What is known at load about the names under `in` and `steps.<id>`, to catch a misspelt one. */
export interface KnownNames {
  /**
   * The fields the source sends in `in.*`: all of them (`complete`: any other name is an
   * error), or its standard ones (a name one or two letters from one of them is a typo; others
   * are the form's own questions). `other` says where a field not in the list is read instead.
   */
  in?: { source: string; names: readonly string[]; complete: boolean; other?: string }
  /** What each step gives at `steps.<id>.<name>`, when its action says. */
  outputs?: ReadonlyMap<string, { type: string; names: readonly string[] }>
}

export interface Template {
  readonly source: string
  /** True when the source holds no expression: render() always returns the source. */
  readonly constant: boolean
  /** Renders to text; objects and arrays print as JSON. */
  render(scope: Scope): string
  /** A template that is exactly one `{{ expr }}` yields the value with its type; others render(). */
  evaluate(scope: Scope): unknown
}

/** A problem found while compiling; the config loader adds file, line and column. */
export class TemplateCompileError extends Error {
  override name = 'TemplateCompileError'
}

/**
 * `single` is set when the part is exactly one `{{ expr }}`: its value, without output escaping.
 * `plain` is set when the part is only text and `{{ a.b.c }}` lookups: then it is rendered
 * without liquidjs (most templates are like this), and liquidjs only runs when a lookup misses,
 * to raise its own error.
 */
type Segment = { literal: string } | { liquid: LiquidTemplate[]; single: Value | undefined; plain: Plain | undefined }

/** Text and property paths, in order. */
type Plain = Array<string | string[]>

/** A lookup liquidjs would do the same way: identifiers and dots; size/first/last are liquid's. */
const PLAIN_PATH = /^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*$/
const LIQUID_PROPERTIES = new Set(['size', 'first', 'last'])
const MISSING = Symbol('missing')

/** Tags that read files or include other templates: nothing in a config may reach the disk. */
const FORBIDDEN_TAGS = ['include', 'render', 'layout', 'block']

export class TemplateEngine {
  readonly #liquid: Liquid
  readonly #literals: readonly string[]

  /** `literals`: strings (environment values) that must never be read as template source. */
  constructor(literals: readonly string[] = []) {
    this.#literals = literals.filter((s) => s.includes('{{') || s.includes('{%'))
    this.#liquid = new Liquid({
      strictVariables: true,
      strictFilters: true,
      ownPropertyOnly: true,
      lenientIf: true, // lets `{{ x | default: 1 }}` and `{% if x %}` see a missing name as nil
      outputEscape: (value: unknown) => toText(value),
      renderLimit: 1000,
      memoryLimit: 64 * 1024 * 1024,
    })
    this.#liquid.registerFilter('uuid', () => randomUUID())
    this.#liquid.registerFilter('random', randomFilter)
    for (const tag of FORBIDDEN_TAGS) this.#liquid.registerTag(tag, forbiddenTag(tag))
  }

  compile(source: string, options: CompileOptions): Template {
    const segments = this.#split(source).map((part): Segment => {
      if (part.literal) return { literal: part.text }
      const liquid = this.#parse(part.text)
      this.#checkNames(liquid, options)
      const only = liquid.length === 1 ? liquid[0] : undefined
      const single = only instanceof Output ? new Value((only.token as unknown as { content: string }).content, this.#liquid) : undefined
      return { liquid, single, plain: plainParts(liquid) }
    })
    return new CompiledTemplate(this.#liquid, source, options.where, segments)
  }

  #parse(text: string): LiquidTemplate[] {
    try {
      return this.#liquid.parse(text)
    } catch (err) {
      throw new TemplateCompileError(`the template does not compile: ${liquidMessage(err)}`)
    }
  }

  #checkNames(liquid: LiquidTemplate[], options: CompileOptions): void {
    const names = options.names ?? RUN_NAMES
    const earlier = options.earlierSteps ?? []
    for (const segments of this.#liquid.globalVariableSegmentsSync(liquid)) {
      const [root, step] = segments
      if (typeof root !== 'string' || !names.includes(root)) {
        throw new TemplateCompileError(`the template reads unknown name '${String(root)}' (allowed: ${names.join(', ')})`)
      }
      if (root === 'steps' && typeof step === 'string' && !earlier.includes(step)) {
        const known = earlier.length > 0 ? `earlier actions: ${earlier.join(', ')}` : 'no action runs before this one'
        throw new TemplateCompileError(`the template reads steps.${step}, which is not an earlier action (${known})`)
      }
      const name = root === 'in' ? step : segments[2]
      if (typeof name !== 'string' || LIQUID_PROPERTIES.has(name)) continue
      if (root === 'in' && options.known?.in) checkInField(name, options.known.in)
      const outputs = root === 'steps' && typeof step === 'string' ? options.known?.outputs?.get(step) : undefined
      if (outputs && !outputs.names.includes(name)) {
        throw new TemplateCompileError(
          `the template reads steps.${step}.${name}, which step '${step}' (${outputs.type}) does not give (it gives: ${outputs.names.join(', ')})${didYouMean(name, outputs.names)}`,
        )
      }
    }
  }

  /** Splits a string at the protected literals, so that only the rest is parsed. */
  #split(source: string): Array<{ literal: boolean; text: string }> {
    let parts = [{ literal: false, text: source }]
    for (const lit of this.#literals) {
      parts = parts.flatMap((p) => {
        if (p.literal || !p.text.includes(lit)) return [p]
        return p.text.split(lit).flatMap((text, i) => (i === 0 ? [{ literal: false, text }] : [{ literal: true, text: lit }, { literal: false, text }]))
      })
    }
    return parts.filter((p) => p.text !== '')
  }
}

/** How far a name may be from a known one to be taken for its misspelling: one letter in a short name, two in a longer one. */
function typoDistance(name: string): number {
  return name.length <= 4 ? 1 : 2
}

function checkInField(name: string, known: NonNullable<KnownNames['in']>): void {
  if (known.names.includes(name)) return
  const near = closest(name, known.names as string[])
  const typo = near !== undefined && distance(name, near) <= typoDistance(name)
  if (!known.complete && !typo) return // a field of the sender's own
  const other = known.other ? ` (${known.other})` : ''
  throw new TemplateCompileError(`the template reads in.${name}, which ${known.source} does not send (it sends: ${known.names.join(', ')})${didYouMean(name, known.names)}${other}`)
}

/** `; did you mean 'phone'?` when a known name is near enough, else ''. */
function didYouMean(name: string, names: readonly string[]): string {
  if (names.length === 0) return ''
  const near = closest(name, names as string[])
  return near !== undefined && distance(name.toLowerCase(), near.toLowerCase()) <= typoDistance(name) ? `; did you mean '${near}'?` : ''
}

class CompiledTemplate implements Template {
  readonly constant: boolean
  readonly #text: string | undefined

  constructor(
    readonly liquid: Liquid,
    readonly source: string,
    readonly where: string,
    readonly segments: Segment[],
  ) {
    this.constant = segments.every((s) => 'literal' in s || s.liquid.every((t) => t.token.kind === TokenKind.HTML))
    this.#text = this.constant ? this.render({}) : undefined
  }

  render(scope: Scope): string {
    if (this.#text !== undefined) return this.#text
    let out = ''
    for (const segment of this.segments) {
      if ('literal' in segment) out += segment.literal
      else {
        const fast = segment.plain ? renderPlain(segment.plain, scope) : MISSING
        out += fast !== MISSING ? fast : this.#run(() => this.liquid.renderSync(segment.liquid, scope))
      }
    }
    return out
  }

  evaluate(scope: Scope): unknown {
    const only = this.segments.length === 1 ? this.segments[0] : undefined
    if (!only || 'literal' in only || !only.single) return this.render(scope)
    const path = only.plain?.length === 1 ? only.plain[0] : undefined
    if (Array.isArray(path)) {
      const found = lookupOwn(scope, path)
      if (found !== MISSING) return found
    }
    const value = only.single
    return this.#run(() => toValueSync(value.value(new Context(scope, this.liquid.options), false)))
  }

  #run<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      const missing = missingName(err)
      // The message names where the template is, never its text: that may hold a secret.
      // A name under in or request is one the caller did not send.
      if (missing !== undefined) throw hookrelayError('HR_TEMPLATE_MISSING', [missing, this.where], { cause: err, fault: /^(in|request)\b/.test(missing) ? 'caller' : undefined })
      throw hookrelayError('HR_TEMPLATE_ERROR', [this.where, liquidMessage(err)], { cause: err })
    }
  }
}

/** The part as text and paths, when it holds nothing else; undefined otherwise. */
function plainParts(liquid: LiquidTemplate[]): Plain | undefined {
  const parts: Plain = []
  for (const t of liquid) {
    if (t.token.kind === TokenKind.HTML) parts.push((t.token as unknown as { getContent(): string }).getContent())
    else if (t instanceof Output) {
      const content = (t.token as unknown as { content: string }).content.trim()
      if (!PLAIN_PATH.test(content)) return undefined
      const path = content.split('.')
      if (path.some((p) => LIQUID_PROPERTIES.has(p))) return undefined
      parts.push(path)
    } else return undefined
  }
  return parts
}

/** Follows own properties (as liquidjs does with ownPropertyOnly); MISSING when any is absent. */
function lookupOwn(scope: Scope, path: string[]): unknown {
  let value: unknown = scope
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return MISSING
    value = (value as Record<string, unknown>)[key]
  }
  return value === undefined ? MISSING : value
}

function renderPlain(parts: Plain, scope: Scope): string | typeof MISSING {
  let out = ''
  for (const part of parts) {
    if (typeof part === 'string') out += part
    else {
      const value = lookupOwn(scope, part)
      if (value === MISSING) return MISSING
      out += toText(value)
    }
  }
  return out
}

function missingName(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as { originalError?: unknown }).originalError) {
    if (e.name === 'UndefinedVariableError') return /undefined variable: ([^,]+)/.exec(e.message)?.[1]
  }
  return undefined
}

/** `{{ nil | random: 1, 100 }}` → an integer from 1 to 100; `{{ 1 | random: 6 }}` reads the input as min. */
function randomFilter(input: unknown, a?: unknown, b?: unknown): number {
  const [min, max] = b === undefined ? [Number(input ?? 0), Number(a ?? 100)] : [Number(a), Number(b)]
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
    throw new Error(`random needs whole numbers min <= max, got ${String(min)} and ${String(max)}`)
  }
  return randomInt(min, max + 1)
}

function forbiddenTag(name: string): new (...args: ConstructorParameters<typeof Tag>) => Tag {
  return class extends Tag {
    constructor(...args: ConstructorParameters<typeof Tag>) {
      super(...args)
      throw new Error(`tag '${name}' is not allowed: templates cannot read files`)
    }
    *render(): Generator<unknown, void, unknown> {}
  }
}

/** A value as text: strings as they are, nothing as '', objects and arrays as JSON. */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === null || value === undefined) return ''
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/**
 * An error's message, never shortened nor reflowed (a cut or a changed line break could leave a
 * secret that masking no longer recognises), and without the token text liquidjs quotes (it
 * cuts it to 32 characters; a short one such as "|" stays): the line and column say where.
 */
function liquidMessage(err: unknown): string {
  return withoutQuotedTokens(err instanceof Error ? err.message : String(err))
}

/**
 * `message` without each `"..."` of four characters or more (a backslash escapes the next
 * character), with the white space before it and a `...` after it: what
 * /\s*"(?:[^"\\]|\\.){4,}"(?:\.\.\.)?/g removes, by a scan. The regular expression backtracked
 * over a message holding a long run of spaces or of `"\` (caller text can reach a message:
 * `Invalid time zone specified: <in.tz>`), 17 s at 80,000 characters.
 */
function withoutQuotedTokens(message: string): string {
  let out = ''
  let copied = 0
  for (let open = message.indexOf('"'); open !== -1; ) {
    let i = open + 1
    let length = 0
    let closed = false
    while (i < message.length) {
      const c = message[i]
      if (c === '"') {
        closed = true
        break
      }
      if (c === '\\') {
        if (i + 1 >= message.length || LINE_ENDS.includes(message[i + 1]!)) break // `.` matches no line end
        i += 2
      } else i++
      length++
    }
    // An unclosed string: every quote before `i` opens one that ends the same way.
    if (!closed) {
      if (i >= message.length) break
      open = message.indexOf('"', i)
      continue
    }
    // A short one: its closing quote may open the next.
    if (length < 4) {
      open = message.indexOf('"', open + 1)
      continue
    }
    let start = open
    while (start > copied && /\s/.test(message[start - 1]!)) start--
    const end = message.startsWith('...', i + 1) ? i + 4 : i + 1
    out += message.slice(copied, start)
    copied = end
    open = message.indexOf('"', end)
  }
  return out + message.slice(copied)
}

const LINE_ENDS = '\n\r\u2028\u2029'
