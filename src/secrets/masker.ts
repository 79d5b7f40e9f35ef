/**
 * The one way anything leaves hookrelay: through a Masker. It knows the secret values (the
 * config's, and those a run learns where they enter) and hides them in text, in values and in
 * bodies. Whatever it returns is typed `Masked`, and every output (the journal, the answer to a
 * caller, letters) accepts only `Masked` values, so an output that skips masking does not compile.
 */
import { MASK, MIN_SECRET_LENGTH, SecretMatcher } from './matcher.js'
import { isSecretName, mayNameSecret } from './names.js'

declare const masked: unique symbol

/** A value that went through a Masker. Only masker.ts makes them. */
export type Masked<T> = T & { readonly [masked]: true }

/** Values a run may learn from the fields it sees (secret-named fields of a request, of a body it sends). */
export const FIELD_SECRETS_LIMIT = 100

const MAX_DEPTH = 64

export class Masker {
  readonly #base: Masker | undefined
  readonly #own = new Set<string>()
  #matcher: SecretMatcher | undefined
  #fieldSecrets = 0
  /** Values under secret names beyond FIELD_SECRETS_LIMIT: hidden where they sit, not searched for elsewhere. */
  overflow = 0

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
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH || this.knows(secret)) return
    this.#own.add(secret)
    this.#matcher = undefined
  }

  knows(secret: string): boolean {
    return this.#own.has(secret) || (this.#base?.knows(secret) ?? false)
  }

  /**
   * Learns every value under a secret-named field of `value`, at any depth (`auth: { user,
   * password }` too). Up to FIELD_SECRETS_LIMIT per run; the rest are counted in `overflow`.
   */
  learnFields(value: unknown): void {
    visitSecretFields(value, (secret) => this.learnField(secret))
  }

  /** Learns one value found under a secret name, counted against FIELD_SECRETS_LIMIT. */
  learnField(secret: string): void {
    if (secret.length < MIN_SECRET_LENGTH || this.knows(secret)) return
    if (this.#fieldSecrets >= FIELD_SECRETS_LIMIT) {
      this.overflow++
      return
    }
    this.#fieldSecrets++
    this.learn(secret)
  }

  /** Text with every known secret replaced by ***. */
  text(text: string): Masked<string> {
    return this.#compiled().mask(text) as Masked<string>
  }

  /** An error's message, masked; anything else through String(). */
  message(err: unknown): Masked<string> {
    return this.text(err instanceof Error ? err.message : String(err))
  }

  /** A JSON-like value: everything under a secret-named field hidden, every string masked. */
  value<T>(value: T): Masked<T> {
    return walk(value, 0, (text) => this.text(text)) as Masked<T>
  }

  /**
   * A message body: as text, and when it is JSON or a form, its secret-named fields hidden as
   * well (it is then written anew, compactly, since the values changed).
   */
  body(text: string, contentType?: string): Masked<string> {
    return this.text(mayNameSecret(text) ? hideFieldsInBody(text, contentType) : text)
  }

  /**
   * A request or an answer: its body masked as a body (by the content type its headers give),
   * every other field as a value.
   */
  exchange<T extends { headers?: Record<string, string> | undefined; body?: string | undefined }>(part: T): Masked<T> {
    const { body, ...rest } = part
    const masked = this.value(rest) as Record<string, unknown>
    if (typeof body === 'string') masked['body'] = this.body(body, contentType(part.headers))
    return masked as Masked<T>
  }

  /**
   * Text that someone else cut short (an answer read up to a limit), without the beginning of a
   * secret the cut may have left at its end: whole, that secret would have been masked later.
   */
  trimCutSecret(text: string): string {
    const tail = this.#compiled().partialTail(text)
    return tail === 0 ? text : text.slice(0, text.length - tail)
  }

  #compiled(): SecretMatcher {
    if (this.#matcher === undefined) {
      this.#matcher = this.#own.size === 0 && this.#base ? this.#base.#compiled() : new SecretMatcher(this.#all())
    }
    return this.#matcher
  }

  #all(): string[] {
    return this.#base ? [...this.#base.#all(), ...this.#own] : [...this.#own]
  }
}

/** Calls `found` with each string or number under a secret-named field of `value`, at any depth. */
export function visitSecretFields(value: unknown, found: (secret: string) => void, depth = 0): void {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return
  for (const [key, child] of Object.entries(value)) {
    if (isSecretName(key)) visitLeaves(child, found, depth + 1)
    else visitSecretFields(child, found, depth + 1)
  }
}

function visitLeaves(value: unknown, found: (secret: string) => void, depth: number): void {
  if (typeof value === 'string' || typeof value === 'number') found(String(value))
  else if (typeof value === 'object' && value !== null && depth <= MAX_DEPTH) for (const child of Object.values(value)) visitLeaves(child, found, depth + 1)
}

/** A copy of `value` with secret-named fields hidden and every string passed through `text`. */
function walk(value: unknown, depth: number, text: (s: string) => string): unknown {
  if (typeof value === 'string') return text(value)
  if (typeof value !== 'object' || value === null) return value
  if (depth > MAX_DEPTH) return MASK
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, text))
  const out: Record<string, unknown> = Object.create(null) // a '__proto__' key stays a plain key
  for (const [k, v] of Object.entries(value)) out[k] = isSecretName(k) ? hideAll(v, depth + 1) : walk(v, depth + 1, text)
  return out
}

/** Everything under a secret-named field: each value hidden, the shape (lists, objects) kept readable. */
function hideAll(value: unknown, depth: number): unknown {
  if (value === null || value === '') return value
  if (typeof value !== 'object' || depth > MAX_DEPTH) return MASK
  if (Array.isArray(value)) return value.map((v) => hideAll(v, depth + 1))
  const out: Record<string, unknown> = Object.create(null)
  for (const [k, v] of Object.entries(value)) out[k] = hideAll(v, depth + 1)
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
 * it is changed in place); true when something was hidden.
 */
function hideFieldsInPlace(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return false
  const fields = value as Record<string, unknown>
  let hidden = false
  for (const key of Object.keys(fields)) {
    const child = fields[key]
    if (Array.isArray(value) || !isSecretName(key)) hidden = hideFieldsInPlace(child, depth + 1) || hidden
    else if (child !== null && child !== '' && child !== MASK) {
      fields[key] = hideAll(child, depth + 1)
      hidden = true
    }
  }
  return hidden
}

function contentType(headers: Record<string, string> | undefined): string | undefined {
  for (const name in headers) if (name.toLowerCase() === 'content-type') return headers[name]
  return undefined
}
