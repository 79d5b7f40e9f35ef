/**
 * Finding known secret values in text, in time linear in the text's length however many
 * secrets there are and however they overlap. A regular expression of all of them answers "is
 * any here?" in native code (the usual answer is no); only then an Aho-Corasick automaton finds
 * every occurrence, overlapping ones too, so a secret inside or across another is hidden whole.
 */

export const MASK = '***'

/** Shorter values are not searched for in text (hiding every "on" would garble the journal); they are still hidden where they sit under a secret name. */
export const MIN_SECRET_LENGTH = 4

/** Longer values are hidden only where they sit under a secret name: a search needs its terms bounded. */
export const MAX_SECRET_LENGTH = 8192

/** A stretch of text to hide: [start, end). */
export type Span = readonly [start: number, end: number]

export class SecretMatcher {
  readonly #forms: string[]
  readonly #prefilter: RegExp | undefined
  #automaton: Automaton | undefined

  constructor(secrets: Iterable<string>) {
    const forms = new Set<string>()
    for (const secret of secrets) for (const form of appearances(secret)) forms.add(form)
    this.#forms = [...forms]
    this.#prefilter = this.#forms.length > 0 ? new RegExp(this.#forms.map(escapeRegExp).join('|')) : undefined
  }

  get empty(): boolean {
    return this.#forms.length === 0
  }

  /** Where secrets stand in `text`, each stretch the union of the occurrences that touch it, in order. */
  spans(text: string): Span[] {
    if (!this.#prefilter?.test(text)) return []
    this.#automaton ??= new Automaton(this.#forms)
    return this.#automaton.spans(text)
  }

  /**
   * How many characters at the end of `text` are the beginning of a secret: where someone else
   * cut a text short in the middle of a secret, that start has to go too.
   */
  partialTail(text: string): number {
    if (this.#forms.length === 0) return 0
    this.#automaton ??= new Automaton(this.#forms)
    return this.#automaton.openPrefix(text)
  }
}

/** Replaces `spans` (sorted, from one or more matchers) of `text` with ***, merging those that touch. */
export function hideSpans(text: string, spans: readonly Span[]): string {
  if (spans.length === 0) return text
  const sorted = spans.length > 1 ? [...spans].sort((a, b) => a[0] - b[0]) : spans
  let out = ''
  let copied = 0
  let [start, end] = sorted[0]!
  for (const [s, e] of sorted.slice(1)) {
    if (s <= end) end = Math.max(end, e)
    else {
      out += text.slice(copied, start) + MASK
      copied = end
      ;[start, end] = [s, e]
    }
  }
  return out + text.slice(copied, start) + MASK + text.slice(end)
}

const appearanceCache = new Map<string, string[]>()
const CACHE_LIMIT = 2000

/**
 * The ways a secret shows up in text: as it is; percent-encoded (upper- and lower-case hex,
 * as a form, and as WHATWG URLs encode a query, path or userinfo); HTML-escaped; inside a JSON
 * string, as JavaScript writes it, as PHP does (`/` escaped, non-ASCII as \uXXXX), as HTML-safe
 * encoders and Graph API do (`<>&'"@=` as \u00XX), or with every sign escaped; and each of those
 * inside a JSON string once or twice more (a body echoed as a string, in a log line). Never
 * throws: a lone surrogate is searched for as it is.
 */
export function appearances(secret: string): string[] {
  let forms = appearanceCache.get(secret)
  if (forms) return forms
  forms = secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH ? [] : computeForms(secret)
  if (appearanceCache.size >= CACHE_LIMIT) appearanceCache.clear()
  appearanceCache.set(secret, forms)
  return forms
}

function computeForms(secret: string): string[] {
  const whole = secret.replace(LONE_SURROGATE, '\ufffd') // what encodeURIComponent and URL can take
  const percent = encodeURIComponent(whole)
  const plain = new Set([
    secret,
    percent,
    percent.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
    new URLSearchParams({ s: whole }).toString().slice(2),
    secret.replace(/[&<>"']/g, (c) => `&${HTML_ENTITIES[c]};`),
    ...urlEncodings(whole),
  ])
  const forms = new Set(plain)
  for (const form of plain) {
    const json = inJson(form)
    for (const written of [json, json.replace(/\//g, '\\/').replace(/[^\x00-\x7f]/g, unicodeEscape), json.replace(/[<>&'@=]/g, unicodeEscape), json.replace(/[^A-Za-z0-9\\]/g, unicodeEscape)]) {
      forms.add(written)
      forms.add(inJson(written))
      forms.add(inJson(inJson(written)))
    }
  }
  return [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH)
}

/** How `text` reads inside a JSON string. */
function inJson(text: string): string {
  return JSON.stringify(text).slice(1, -1)
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

const HTML_ENTITIES: Record<string, string> = { '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }

function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
}

function urlEncodings(secret: string): string[] {
  const url = new URL('http://h/')
  url.search = secret
  url.pathname = `/${secret}`
  url.username = secret
  return [url.search.slice(1), url.pathname.slice(1), url.username]
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

/**
 * Aho-Corasick over UTF-16 code units. Children are kept as linked lists in typed arrays (most
 * states of secret strings have one child); the start state has a table, since it has many.
 * `longest[s]` is the length of the longest secret ending in state `s` (through fail links).
 */
class Automaton {
  readonly #code: Uint16Array
  readonly #firstChild: Int32Array
  readonly #nextSibling: Int32Array
  readonly #fail: Int32Array
  readonly #depth: Int32Array
  readonly #longest: Int32Array
  readonly #root = new Int32Array(0x10000).fill(-1)
  #size = 1

  constructor(forms: readonly string[]) {
    const capacity = 1 + forms.reduce((n, f) => n + f.length, 0)
    this.#code = new Uint16Array(capacity)
    this.#firstChild = new Int32Array(capacity).fill(-1)
    this.#nextSibling = new Int32Array(capacity).fill(-1)
    this.#fail = new Int32Array(capacity)
    this.#depth = new Int32Array(capacity)
    this.#longest = new Int32Array(capacity)
    for (const form of forms) this.#insert(form)
    this.#link()
  }

  /** The state after `state` reads code unit `c`, following no fail link; -1 when there is none. */
  #child(state: number, c: number): number {
    if (state === 0) return this.#root[c]!
    for (let s = this.#firstChild[state]!; s !== -1; s = this.#nextSibling[s]!) if (this.#code[s] === c) return s
    return -1
  }

  #insert(form: string): void {
    let state = 0
    for (let i = 0; i < form.length; i++) {
      const c = form.charCodeAt(i)
      let next = this.#child(state, c)
      if (next === -1) {
        next = this.#size++
        this.#code[next] = c
        this.#depth[next] = this.#depth[state]! + 1
        if (state === 0) this.#root[c] = next
        else {
          this.#nextSibling[next] = this.#firstChild[state]!
          this.#firstChild[state] = next
        }
      }
      state = next
    }
    this.#longest[state] = form.length
  }

  /** Fail links, breadth first: the longest proper suffix of each state that is also a state. */
  #link(): void {
    const queue: number[] = []
    for (const s of this.#root) if (s !== -1) queue.push(s) // fail = 0
    for (let q = 0; q < queue.length; q++) {
      const state = queue[q]!
      for (let s = this.#firstChild[state]!; s !== -1; s = this.#nextSibling[s]!) {
        const c = this.#code[s]!
        let f = this.#fail[state]!
        let target = this.#child(f, c)
        while (target === -1 && f !== 0) {
          f = this.#fail[f]!
          target = this.#child(f, c)
        }
        this.#fail[s] = target === -1 ? 0 : target
        this.#longest[s] = Math.max(this.#longest[s]!, this.#longest[this.#fail[s]!]!)
        queue.push(s)
      }
    }
  }

  #step(state: number, c: number): number {
    for (;;) {
      const next = this.#child(state, c)
      if (next !== -1) return next
      if (state === 0) return 0
      state = this.#fail[state]!
    }
  }

  spans(text: string): Span[] {
    const spans: Array<[number, number]> = []
    let state = 0
    for (let i = 0; i < text.length; i++) {
      state = this.#step(state, text.charCodeAt(i))
      const length = this.#longest[state]!
      if (length === 0) continue
      let start = i + 1 - length
      // A long match may reach back over earlier ones: they become one.
      while (spans.length > 0 && start <= spans.at(-1)![1]) start = Math.min(start, spans.pop()![0])
      spans.push([start, i + 1])
    }
    return spans
  }

  /** The length of the longest end of `text` that begins some secret. */
  openPrefix(text: string): number {
    let state = 0
    for (let i = 0; i < text.length; i++) state = this.#step(state, text.charCodeAt(i))
    return this.#depth[state]!
  }
}
