/**
 * The one way anything leaves hookrelay: through a Masker. It knows the secret values (the
 * config's, and those a run learns where they enter) and hides them in text, in values and in
 * bodies. Whatever it returns is typed `Masked`, and every output (the journal, the answer to a
 * caller, letters) accepts only `Masked` values, so an output that skips masking does not compile.
 *
 * What it costs is bounded by construction (docs/security.md, "Masking"): the config's secrets
 * are found by one automaton made at load; what a run may learn besides is bounded in values and
 * in the characters searched for (RUN_LEARNING); past that, values are hidden only where they
 * sit, under their names. So masking a text costs time linear in its length, with a constant
 * that does not depend on what a caller sent.
 */
import type { Scope } from '../pipeline/template.js'
import { appearances, formsAtLeast, hideSpans, MASK, MAX_SECRET_LENGTH, MIN_SECRET_LENGTH, SecretMatcher, type Span } from './matcher.js'
import { holdsSecret, mayNameSecret, type SecretShape } from './names.js'

/**
 * The brand: an ECMAScript private field, so no object literal, spread or copy has it; only
 * this module casts to it. Masked values are read-only, so none is changed after masking.
 */
declare class MaskedBrand {
  #masked: true
}

type DeepReadonly<T> = T extends (infer U)[] ? ReadonlyArray<DeepReadonly<U>> : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T

/** A value that went through a Masker. */
export type Masked<T> = (T extends string ? T : DeepReadonly<T>) & MaskedBrand

/**
 * What one run may learn besides the config's secrets, for each of its three budgets (see
 * Budget): at most `values` values, and at most `chars` characters of text to search for,
 * counting every form a value is searched in (see appearances: a plain token takes about 5 times
 * its length, a Cyrillic password about 130 times). A value that does not fit is not learned: it
 * stays hidden where it sits under its name, and the run's warnings count it.
 */
export const RUN_LEARNING = { values: 32, chars: 32 * 1024 } as const
/** Values found under secret names are searched for elsewhere only from this length (a field "2024" would blot out every year)... */
export const FIELD_SECRET_MIN_LENGTH = 8
/** ...and up to this length (a signature pad's picture is no credential to search for). */
export const FIELD_SECRET_MAX_LENGTH = 1024

const MAX_DEPTH = 64

/**
 * Where a run learns from, each with a budget of its own, so that none can use up another's:
 * - `request`: what its request brought (credentials in headers, secret-named fields);
 * - `sent`: what its actions send that a caller can shape, in number too (userinfo anywhere in a
 *   rendered URL, secret-named query parameters, secret-named fields of a body);
 * - `credentials`: what the config has its actions send as credentials (secret-named headers, a
 *   service's token or key), so many per step as the config writes: a token a login step
 *   answered is learned when the next step sends it, whatever the caller sent.
 * In the first two, a value whose forms do not fit uses up what is left (making them cost about
 * that much), so a caller cannot make a run try values without end; in `credentials` the config
 * bounds the tries, and a value that does not fit is only itself refused.
 */
export type Budget = 'request' | 'sent' | 'credentials'
const BUDGETS: readonly Budget[] = ['request', 'sent', 'credentials']

export class Masker {
  /** The config's secrets: a run's masker shares them (a reload's join them), and never makes their matcher again. */
  readonly #config: SecretSet
  /** A run's own, by budget; none for the config's masker. */
  readonly #run: Record<Budget, SecretSet> | undefined
  readonly #shape: SecretShape | undefined
  readonly #notLearned = new Set<string>()
  #skipped = 0
  /** Counts what was learned: a part masked before a later lesson is masked again (see runner). */
  version = 0

  constructor(secrets: Iterable<string> = [], run?: { config: SecretSet; shape: SecretShape | undefined }) {
    this.#config = run?.config ?? new SecretSet('config')
    this.#run = run ? { request: new SecretSet('caller'), sent: new SecretSet('caller'), credentials: new SecretSet('config-bounded') } : undefined
    this.#shape = run?.shape
    for (const secret of secrets) this.learn(secret)
  }

  /**
   * A masker for one run: it knows the config's secrets, and what it learns stays its own.
   * `shape` tells how the run's source names fields in its own data (see SecretShape).
   */
  forRun(shape?: SecretShape): Masker {
    return new Masker([], { config: this.#config, shape })
  }

  /**
   * Learns a secret value: from now on it is hidden wherever it appears. The config's masker
   * learns it for good; a run's within `budget` (its actions' credentials, unless told otherwise).
   * True when it is known now.
   */
  learn(secret: string | undefined, budget: Budget = 'credentials'): boolean {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) return false
    if (this.knows(secret)) return true
    const set = this.#run?.[budget] ?? this.#config
    if (!set.add(secret)) {
      this.#missed(secret)
      return false
    }
    this.version++
    return true
  }

  /** Learns every secret `other` knows of the config's (a reloaded config's: the old ones stay known too). */
  absorb(other: Masker): void {
    for (const secret of other.#config.values()) this.learn(secret)
  }

  /** How many values under secret names were not learned (over a budget, or too long): hidden where they sit only. */
  get overflow(): number {
    return this.#notLearned.size + this.#skipped
  }

  /** True when `budget` of a run takes no more values (the config's masker is never full). */
  full(budget: Budget = 'credentials'): boolean {
    return this.#run?.[budget].full ?? false
  }

  /** Counts `count` values not learned without looking at them (the budget was full). */
  notLearned(count: number): void {
    this.#skipped += count
  }

  knows(secret: string): boolean {
    return this.#config.has(secret) || (this.#run !== undefined && BUDGETS.some((budget) => this.#run![budget].has(secret)))
  }

  /**
   * Learns every value under a secret-named field of `value`, at any depth (`auth: { user,
   * password }` too), within `budget`, from FIELD_SECRET_MIN_LENGTH to FIELD_SECRET_MAX_LENGTH
   * characters. The rest are counted in `overflow`.
   */
  learnFields(value: unknown, budget: Budget = 'request'): void {
    visitSecretFields(value, (secret) => this.learnField(secret, budget), this.#shape)
  }

  /** Learns one value found under a secret name, within `budget`. */
  learnField(secret: string, budget: Budget = 'request'): void {
    if (secret.length < FIELD_SECRET_MIN_LENGTH || this.knows(secret)) return
    if (secret.length > FIELD_SECRET_MAX_LENGTH) this.#missed(secret)
    else this.learn(secret, budget)
  }

  #missed(secret: string): void {
    if (this.#notLearned.size < 10_000) this.#notLearned.add(secret)
  }

  /** Text with every known secret replaced by ***. Never throws: on a failure of its own, the whole text is hidden. */
  text(text: string): Masked<string> {
    try {
      return hideSpans(text, this.#spans(text)) as Masked<string>
    } catch {
      return MASK as Masked<string>
    }
  }

  /** An error's message, masked; anything else through String(). */
  message(err: unknown): Masked<string> {
    return this.text(err instanceof Error ? err.message : String(err))
  }

  /** A JSON-like value: everything under a secret-named field hidden, every string masked. */
  value<T>(value: T): Masked<T> {
    return walk(value, 0, this, this.#shape) as Masked<T>
  }

  /**
   * A message body: as text, and when it is JSON or a form, its secret-named fields hidden as
   * well (it is then written anew, compactly, since the values changed).
   */
  body(text: string, contentType?: string): Masked<string> {
    // An escaped name ({"\u0074oken": ...}, a form's %70assword) passes the quick test: such a body is always read.
    return this.#bodyHiding(text, contentType, mayNameSecret(text) || text.includes('\\u') || (isForm(contentType) && text.includes('%')))
  }

  /**
   * body(text) for a request body its parser has read already (`value`: the JSON, or the form's
   * fields): whether it has fields to hide is seen in `value`, without reading the text again (a
   * quick test of the whole text cost intake 5 µs a request). Only where body() reads the text
   * the same way: JSON that came as JSON, a form that does not look like JSON.
   */
  parsedBody(text: string, value: unknown, contentType?: string): Masked<string> {
    const sameReading = typeof value === 'object' && value !== null && looksLikeJson(text) !== isForm(contentType)
    if (!sameReading) return this.body(text, contentType)
    return this.#bodyHiding(text, contentType, wouldHide(value, 0, this.#shape))
  }

  /** The body as text, with its secret-named fields hidden first when `read`. */
  #bodyHiding(text: string, contentType: string | undefined, read: boolean): Masked<string> {
    let hidden = text
    try {
      if (read) hidden = hideFieldsInBody(text, contentType, this.#shape)
    } catch {
      return MASK as Masked<string>
    }
    return this.text(hidden)
  }

  /**
   * A request or an answer: its body masked as a body (by the content type its headers give),
   * cut to `bodyLimit` bytes after masking (and `truncated` set), every other field as a value.
   */
  exchange<T extends { headers?: Record<string, string> | undefined; body?: string | undefined }>(part: T, bodyLimit?: number): Masked<T> {
    const { body, ...rest } = part
    const masked = this.value(rest) as Record<string, unknown>
    if (typeof body === 'string') {
      const whole = this.body(body, contentType(part.headers))
      const kept = bodyLimit === undefined ? { text: whole, cut: false } : cutBytes(whole, bodyLimit) // a start of masked text is masked text
      masked['body'] = kept.text
      if (kept.cut) masked['truncated'] = true
    }
    return masked as Masked<T>
  }

  /**
   * Renders what the operator wrote (an answer) from a run's data. Every value the template
   * reads passes this masker as it is read; the text the operator wrote is sent as written:
   * theirs to send (a VK confirmation code or a CORS origin from `${ENV}`). The journal keeps
   * its copy masked whole.
   */
  render<T>(scope: Scope, render: (view: Scope) => T): Masked<T> {
    return render(this.#view(scope) as Scope) as Masked<T>
  }

  /**
   * Text that someone else cut short (an answer read up to a limit), without the beginning of a
   * secret the cut may have left at its end: whole, that secret would have been masked later.
   */
  trimCutSecret(text: string): string {
    let tail = this.#config.partialTail(text)
    if (this.#run) for (const budget of BUDGETS) tail = Math.max(tail, this.#run[budget].partialTail(text))
    return tail === 0 ? text : text.slice(0, text.length - tail)
  }

  #spans(text: string): Span[] {
    let spans = this.#config.spans(text)
    if (!this.#run) return spans
    for (const budget of BUDGETS) {
      const own = this.#run[budget].spans(text)
      if (own.length > 0) spans = spans.length === 0 ? own : [...spans, ...own]
    }
    return spans
  }

  /** A view of a value in which every value read is masked as it is read (lazily: only what a template reads costs). */
  #view(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.text(value)
    if (typeof value === 'number') return maskNumber(value, this)
    if (typeof value !== 'object' || value === null) return value
    if (depth > MAX_DEPTH) return MASK
    return new Proxy(value, {
      get: (target, key, receiver) => {
        const child: unknown = Reflect.get(target, key, receiver)
        if (typeof key !== 'string' || typeof child === 'function') return child
        if (holdsSecret(target as Record<string, unknown>, key, this.#shape)) return hideAll(child, depth + 1)
        if (typeof child === 'string' && (key === 'body' || key === 'raw')) return this.body(child)
        return this.#view(child, depth + 1)
      },
    })
  }
}

/**
 * Secret values and the matcher that finds them. A bounded set (a run's) takes a value only
 * while its forms fit RUN_LEARNING; the config's takes all. The budget bounds the work of
 * making forms too: a value whose forms cannot fit (by a lower bound counted in one pass) is
 * refused at once, and one that turns out not to fit uses up what was left, since making its
 * forms cost about that much. So what a run spends on learning is bounded whatever it is sent.
 */
class SecretSet {
  readonly #values = new Set<string>()
  readonly #forms: string[] = []
  /** The config's (unbounded), a budget a caller can draw on, or one the config's steps bound. */
  readonly #kind: 'config' | 'caller' | 'config-bounded'
  #chars = 0
  #matcher: SecretMatcher | undefined

  constructor(kind: 'config' | 'caller' | 'config-bounded') {
    this.#kind = kind
  }

  get #bounded(): boolean {
    return this.#kind !== 'config'
  }

  has(value: string): boolean {
    return this.#values.has(value)
  }

  values(): Iterable<string> {
    return this.#values
  }

  /** No value, however short, fits any more. */
  get full(): boolean {
    return this.#bounded && (this.#values.size >= RUN_LEARNING.values || RUN_LEARNING.chars - this.#chars < MIN_SECRET_LENGTH)
  }

  /** Takes `value`; false when a bounded set has no room for it. */
  add(value: string): boolean {
    let forms: string[] | undefined
    if (this.#bounded) {
      const left = RUN_LEARNING.chars - this.#chars
      if (this.#values.size >= RUN_LEARNING.values || formsAtLeast(value) > left) return false
      forms = appearances(value, left)
      if (forms === undefined) {
        if (this.#kind === 'caller') this.#chars = RUN_LEARNING.chars
        return false
      }
    } else forms = appearances(value)!
    this.#values.add(value)
    for (const form of forms) {
      this.#forms.push(form)
      this.#chars += form.length
    }
    this.#matcher = undefined
    return true
  }

  spans(text: string): Span[] {
    return this.#forms.length === 0 ? [] : this.#compiled().spans(text)
  }

  partialTail(text: string): number {
    return this.#forms.length === 0 ? 0 : this.#compiled().partialTail(text)
  }

  #compiled(): SecretMatcher {
    return (this.#matcher ??= new SecretMatcher(this.#forms, { prefilter: !this.#bounded }))
  }
}

/** Calls `found` with each string or number under a secret-named field of `value`, at any depth. */
export function visitSecretFields(value: unknown, found: (secret: string) => void, shape?: SecretShape, depth = 0): void {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return
  const fields = value as Record<string, unknown>
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue
    if (holdsSecret(fields, key, shape)) visitLeaves(fields[key], found, depth + 1)
    else visitSecretFields(fields[key], found, shape, depth + 1)
  }
}

function visitLeaves(value: unknown, found: (secret: string) => void, depth: number): void {
  if (typeof value === 'string' || typeof value === 'number') found(String(value))
  else if (typeof value === 'object' && value !== null && depth <= MAX_DEPTH) for (const child of Object.values(value)) visitLeaves(child, found, depth + 1)
}

/** A copy of `value` with secret-named fields hidden and every string (and number that is a secret) masked. */
function walk(value: unknown, depth: number, mask: Masker, shape: SecretShape | undefined): unknown {
  if (typeof value === 'string') return mask.text(value)
  if (typeof value === 'number') return maskNumber(value, mask)
  if (typeof value !== 'object' || value === null) return value
  if (depth > MAX_DEPTH) return MASK
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, mask, shape))
  const fields = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const k in fields) {
    if (Object.hasOwn(fields, k)) setField(out, k, holdsSecret(fields, k, shape) ? hideAll(fields[k], depth + 1) : walk(fields[k], depth + 1, mask, shape))
  }
  return out
}

/**
 * Sets a field of a copy. Copies are plain objects, not Object.create(null) ones: those are kept
 * as hash tables, slower to fill and to read, and larger (bench/RESULTS-levers.md). So a field
 * named `__proto__` is defined, not assigned: it stays a plain field, and sets no prototype.
 */
function setField(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  else out[key] = value
}

/** A number whose digits are a known secret (an account id used as a key) is hidden; others stay numbers. */
function maskNumber(value: number, mask: Masker): number | string {
  const text = String(value)
  return text.length >= MIN_SECRET_LENGTH && mask.text(text) !== text ? MASK : value
}

/** Everything under a secret-named field: each value hidden, the shape (lists, objects) kept readable; true, false and null say nothing. */
function hideAll(value: unknown, depth: number): unknown {
  if (value === null || value === '' || typeof value === 'boolean') return value
  if (typeof value !== 'object' || depth > MAX_DEPTH) return MASK
  if (Array.isArray(value)) return value.map((v) => hideAll(v, depth + 1))
  const fields = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const k in fields) if (Object.hasOwn(fields, k)) setField(out, k, hideAll(fields[k], depth + 1))
  return out
}

/** A JSON or form body with its secret-named fields hidden; the text as it was when there are none. */
function hideFieldsInBody(text: string, contentType: string | undefined, shape: SecretShape | undefined): string {
  if (looksLikeJson(text)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return text
    }
    return hideFieldsInPlace(parsed, 0, shape) ? JSON.stringify(parsed) : text
  }
  if (isForm(contentType)) {
    let hidden = false
    const form = new URLSearchParams()
    const params = new URLSearchParams(text)
    const fields = shape ? Object.fromEntries(params) : {} // for the shape's pairs: a name's value, the last if repeated
    for (const [name, value] of params) {
      const secret = value !== '' && holdsSecret(fields, name, shape)
      hidden ||= secret
      form.append(name, secret ? MASK : value)
    }
    return hidden ? form.toString() : text
  }
  return text
}

/**
 * Hides everything under secret-named fields of a value parsed here (nobody else holds it, so
 * it is changed in place); true when something was hidden. Deeper than MAX_DEPTH, a whole
 * branch is hidden: what cannot be looked into is not shown.
 */
function hideFieldsInPlace(value: unknown, depth: number, shape: SecretShape | undefined): boolean {
  if (typeof value !== 'object' || value === null) return false
  const fields = value as Record<string, unknown>
  let hidden = false
  for (const key of Object.keys(fields)) {
    const child = fields[key]
    if (!Array.isArray(value) && holdsSecret(fields, key, shape)) {
      if (!showsSomething(child)) continue
      fields[key] = hideAll(child, depth + 1)
      hidden = true
    } else if (typeof child === 'object' && child !== null && depth + 1 > MAX_DEPTH) {
      fields[key] = MASK
      hidden = true
    } else hidden = hideFieldsInPlace(child, depth + 1, shape) || hidden
  }
  return hidden
}

/** Whether a value under a secret name says anything: true, false, null, '' and *** do not (they stay as they are). */
function showsSomething(value: unknown): boolean {
  return !(value === null || value === '' || value === MASK || typeof value === 'boolean')
}

/** How body masking tells JSON from other text: by its first character. */
function looksLikeJson(text: string): boolean {
  const start = text.trimStart()[0]
  return start === '{' || start === '['
}

/** Whether hideFieldsInPlace would hide anything in `value` (which it leaves as it is). */
function wouldHide(value: unknown, depth: number, shape: SecretShape | undefined): boolean {
  if (typeof value !== 'object' || value === null) return false
  const fields = value as Record<string, unknown>
  for (const key of Object.keys(fields)) {
    const child = fields[key]
    if (!Array.isArray(value) && holdsSecret(fields, key, shape)) {
      if (showsSomething(child)) return true
    } else if (typeof child === 'object' && child !== null && (depth + 1 > MAX_DEPTH || wouldHide(child, depth + 1, shape))) return true
  }
  return false
}

function isForm(contentType: string | undefined): boolean {
  return contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded') ?? false
}

function contentType(headers: Record<string, string> | undefined): string | undefined {
  for (const name in headers) if (name.toLowerCase() === 'content-type') return headers[name]
  return undefined
}

function cutBytes(text: string, limit: number): { text: string; cut: boolean } {
  if (text.length <= limit / 3 || Buffer.byteLength(text) <= limit) return { text, cut: false }
  return { text: Buffer.from(text).subarray(0, limit).toString('utf8'), cut: true }
}
