/**
 * The one way anything leaves hookrelay: through a Masker. It knows the secret values (the
 * config's, and those a run learns where they enter) and hides them in text, in values and in
 * bodies. Whatever it returns is typed `Masked`, and every output (the journal, the answer to a
 * caller, letters) accepts only `Masked` values, so an output that skips masking does not compile.
 */
import type { Scope } from '../pipeline/template.js'
import { hideSpans, MASK, MAX_SECRET_LENGTH, MIN_SECRET_LENGTH, SecretMatcher, type Span } from './matcher.js'
import { isSecretName, mayNameSecret } from './names.js'

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

/** How many values a run learns from the fields it sees, per budget (see learnFields). */
export const FIELD_SECRETS_LIMIT = 100
/** Values found under secret names are searched for elsewhere only from this length (a field "2024" would blot out every year)... */
export const FIELD_SECRET_MIN_LENGTH = 8
/** ...and up to this length (a signature pad's picture is no credential to search for). */
export const FIELD_SECRET_MAX_LENGTH = 1024

const MAX_DEPTH = 64

/** Where field values are learned from: the request (whatever a sender puts in), or what the run's actions send. */
export type Budget = 'request' | 'sent'

export class Masker {
  readonly #base: Masker | undefined
  readonly #own = new Set<string>()
  /** This masker's own secrets (the base has its own matcher: a run never rebuilds the config's). */
  #matcher: SecretMatcher | undefined
  readonly #learned: Record<Budget, number> = { request: 0, sent: 0 }
  readonly #notLearned = new Set<string>()
  /** Counts what was learned: a part masked before a later lesson is masked again (see runner). */
  version = 0

  constructor(secrets: Iterable<string> = [], base?: Masker) {
    this.#base = base
    for (const secret of secrets) this.learn(secret)
  }

  /** A masker for one run: it knows what this one knows, and what it learns stays its own. */
  forRun(): Masker {
    return new Masker([], this)
  }

  /** Learns a secret value: from now on it is hidden wherever it appears. */
  learn(secret: string | undefined): void {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH || this.knows(secret)) return
    this.#own.add(secret)
    this.#matcher = undefined
    this.version++
  }

  /** Learns every secret `other` knows of its own (a reloaded config's: the old ones stay known too). */
  absorb(other: Masker): void {
    for (const secret of other.#own) this.learn(secret)
  }

  /** How many values under secret names were not learned (over a budget, or too long): hidden where they sit only. */
  get overflow(): number {
    return this.#notLearned.size
  }

  knows(secret: string): boolean {
    return this.#own.has(secret) || (this.#base?.knows(secret) ?? false)
  }

  /**
   * Learns every value under a secret-named field of `value`, at any depth (`auth: { user,
   * password }` too), within the budget: FIELD_SECRETS_LIMIT values of FIELD_SECRET_MIN_LENGTH
   * to FIELD_SECRET_MAX_LENGTH characters. The rest are counted in `overflow`.
   */
  learnFields(value: unknown, budget: Budget = 'request'): void {
    visitSecretFields(value, (secret) => this.learnField(secret, budget))
  }

  /** Learns one value found under a secret name, within `budget`. */
  learnField(secret: string, budget: Budget = 'request'): void {
    if (secret.length < FIELD_SECRET_MIN_LENGTH || this.knows(secret)) return
    if (this.#learned[budget] >= FIELD_SECRETS_LIMIT || secret.length > FIELD_SECRET_MAX_LENGTH) {
      if (this.#notLearned.size < 100_000) this.#notLearned.add(secret)
      return
    }
    this.#learned[budget]++
    this.learn(secret)
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
    return walk(value, 0, this) as Masked<T>
  }

  /**
   * A message body: as text, and when it is JSON or a form, its secret-named fields hidden as
   * well (it is then written anew, compactly, since the values changed).
   */
  body(text: string, contentType?: string): Masked<string> {
    let hidden = text
    try {
      // An escaped name ({"\u0074oken": ...}) passes the quick test: such a body is always read.
      if (mayNameSecret(text) || text.includes('\\u')) hidden = hideFieldsInBody(text, contentType)
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
    const tail = Math.max(this.#compiled().partialTail(text), this.#base ? this.#base.#compiled().partialTail(text) : 0)
    return tail === 0 ? text : text.slice(0, text.length - tail)
  }

  #spans(text: string): Span[] {
    const own = this.#compiled().spans(text)
    if (!this.#base) return own
    const base = this.#base.#spans(text)
    return own.length === 0 ? base : base.length === 0 ? own : [...base, ...own]
  }

  #compiled(): SecretMatcher {
    return (this.#matcher ??= new SecretMatcher(this.#own))
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
        if (isSecretName(key)) return hideAll(child, depth + 1)
        if (typeof child === 'string' && (key === 'body' || key === 'raw')) return this.body(child)
        return this.#view(child, depth + 1)
      },
    })
  }
}

/** Calls `found` with each string or number under a secret-named field of `value`, at any depth. */
export function visitSecretFields(value: unknown, found: (secret: string) => void, depth = 0): void {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return
  const fields = value as Record<string, unknown>
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue
    if (isSecretName(key)) visitLeaves(fields[key], found, depth + 1)
    else visitSecretFields(fields[key], found, depth + 1)
  }
}

function visitLeaves(value: unknown, found: (secret: string) => void, depth: number): void {
  if (typeof value === 'string' || typeof value === 'number') found(String(value))
  else if (typeof value === 'object' && value !== null && depth <= MAX_DEPTH) for (const child of Object.values(value)) visitLeaves(child, found, depth + 1)
}

/** A copy of `value` with secret-named fields hidden and every string (and number that is a secret) masked. */
function walk(value: unknown, depth: number, mask: Masker): unknown {
  if (typeof value === 'string') return mask.text(value)
  if (typeof value === 'number') return maskNumber(value, mask)
  if (typeof value !== 'object' || value === null) return value
  if (depth > MAX_DEPTH) return MASK
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, mask))
  const fields = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const k in fields) if (Object.hasOwn(fields, k)) setField(out, k, isSecretName(k) ? hideAll(fields[k], depth + 1) : walk(fields[k], depth + 1, mask))
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
function hideFieldsInBody(text: string, contentType: string | undefined): string {
  const start = text.trimStart()[0]
  if (start === '{' || start === '[') {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return text
    }
    return hideFieldsInPlace(parsed, 0) ? JSON.stringify(parsed) : text
  }
  if (/^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) {
    const form = new URLSearchParams()
    let hidden = false
    for (const [name, value] of new URLSearchParams(text)) {
      const secret = value !== '' && isSecretName(name)
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
function hideFieldsInPlace(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  const fields = value as Record<string, unknown>
  let hidden = false
  for (const key of Object.keys(fields)) {
    const child = fields[key]
    if (!Array.isArray(value) && isSecretName(key)) {
      if (child === null || child === '' || child === MASK || typeof child === 'boolean') continue
      fields[key] = hideAll(child, depth + 1)
      hidden = true
    } else if (typeof child === 'object' && child !== null && depth + 1 > MAX_DEPTH) {
      fields[key] = MASK
      hidden = true
    } else hidden = hideFieldsInPlace(child, depth + 1) || hidden
  }
  return hidden
}

function contentType(headers: Record<string, string> | undefined): string | undefined {
  for (const name in headers) if (name.toLowerCase() === 'content-type') return headers[name]
  return undefined
}

function cutBytes(text: string, limit: number): { text: string; cut: boolean } {
  if (text.length <= limit / 3 || Buffer.byteLength(text) <= limit) return { text, cut: false }
  return { text: Buffer.from(text).subarray(0, limit).toString('utf8'), cut: true }
}
