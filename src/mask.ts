/**
 * Masking of secrets before anything is journaled, logged or mailed.
 *
 * Two rules: values known to be secret (URL keys, `${ENV}` values, an action's token, key or
 * secure) are replaced wherever they appear, also URL-encoded; and fields whose name says
 * secret (Authorization, X-Token, key, secure, password, ...) are replaced whatever they hold.
 */

export const MASK = '***'

/** Shorter values are not masked as text: hiding every "1" or "on" would garble the journal. */
const MIN_SECRET_LENGTH = 4
const MAX_DEPTH = 64

const SECRET_NAME =
  /(^|[-_.])(token|secret|secure|password|passwd|pwd|key|apikey|auth|authorization|cookie|set-cookie|signature)($|[-_.])/i

const secretNames = new Map<string, boolean>()

/** True for header, query or form field names that hold credentials (remembered: names repeat). */
export function isSecretName(name: string): boolean {
  let secret = secretNames.get(name)
  if (secret === undefined) {
    secret = SECRET_NAME.test(name)
    if (secretNames.size >= 10_000) secretNames.clear()
    secretNames.set(name, secret)
  }
  return secret
}

export class Masker {
  #secrets: Set<string>
  /** A child shares its parent's set until it learns a secret of its own (copy on write). */
  #shared: boolean

  constructor(secrets: Iterable<string> = []) {
    this.#secrets = new Set()
    this.#shared = false
    for (const s of secrets) this.add(s)
  }

  /** Adds a secret value (and its encoded forms); short values are ignored. */
  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH || this.#secrets.has(secret)) return
    if (this.#shared) {
      this.#secrets = new Set(this.#secrets)
      this.#shared = false
    }
    this.#secrets.add(secret)
    this.#secrets.add(encodeURIComponent(secret))
    this.#secrets.add(encodeURIComponent(secret).replace(/%20/g, '+'))
    this.#secrets.add(new URLSearchParams({ s: secret }).toString().slice(2)) // a form body encodes ! ' ( ) ~ too
    this.#secrets.add(JSON.stringify(secret).slice(1, -1)) // as it reads inside a JSON log line
  }

  /** A copy that can learn further secrets (one per run) without touching this one. */
  child(): Masker {
    const child = new Masker()
    child.#secrets = this.#secrets
    child.#shared = true
    return child
  }

  text(value: string): string {
    let out = value
    for (const secret of this.#secrets) if (out.includes(secret)) out = out.split(secret).join(MASK)
    return out
  }

  /** Masks a JSON-like value: secret-named fields entirely, every string by value. */
  value<T>(value: T, depth = 0): T {
    if (typeof value === 'string') return this.text(value) as T
    if (typeof value !== 'object' || value === null) return value
    if (depth > MAX_DEPTH) return MASK as T
    if (Array.isArray(value)) return value.map((v) => this.value(v, depth + 1)) as T
    const out: Record<string, unknown> = Object.create(null) // a '__proto__' key stays a plain key
    for (const [k, v] of Object.entries(value)) out[k] = isSecretName(k) ? maskAll(v, depth + 1) : this.value(v, depth + 1)
    return out as T
  }

  /** Masks error text and the like; non-strings pass through String(). */
  message(err: unknown): string {
    return this.text(err instanceof Error ? err.message : String(err))
  }
}

/**
 * Everything under a secret-named field: a value, each value of a list (`?token=a&token=b`),
 * every value inside an object (`auth: { user, password }`); the shape stays readable.
 */
function maskAll(value: unknown, depth: number): unknown {
  if (value === null || value === '') return value
  if (typeof value !== 'object') return MASK
  if (depth > MAX_DEPTH) return MASK
  if (Array.isArray(value)) return value.map((v) => maskAll(v, depth + 1))
  const out: Record<string, unknown> = Object.create(null)
  for (const [k, v] of Object.entries(value)) out[k] = maskAll(v, depth + 1)
  return out
}

/**
 * Learns the values held under secret-named fields (headers, query, form or JSON fields), at
 * any depth, so that they are masked wherever else they turn up.
 */
export function learnSecrets(mask: Masker, value: unknown, depth = 0): void {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return
  for (const [k, v] of Object.entries(value)) {
    if (!isSecretName(k)) {
      learnSecrets(mask, v, depth + 1)
      continue
    }
    learnAll(mask, v, depth + 1)
  }
}

/** Every string or number under a secret-named field, at any depth, is a secret. */
function learnAll(mask: Masker, value: unknown, depth: number): void {
  if (typeof value === 'string' || typeof value === 'number') mask.add(String(value))
  else if (typeof value === 'object' && value !== null && depth <= MAX_DEPTH) for (const v of Object.values(value)) learnAll(mask, v, depth + 1)
}

/** `/hooks/<id>/<key>...` with the key hidden: for logs and the journal. */
export function maskHookPath(url: string): string {
  return url.replace(/^(\/hooks\/[^/?#]*\/)[^/?#]+/, `$1${MASK}`)
}
