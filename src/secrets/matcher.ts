/**
 * Finding known secret values in text, in time linear in the text's length, with a constant that
 * depends neither on how many secrets there are, nor on how they overlap, nor on which strings a
 * caller chose: an Aho-Corasick automaton whose every move costs at most a binary search. A
 * secret inside or across another is hidden whole.
 */

export const MASK = '***'

/** Shorter values are not searched for in text (hiding every "on" would garble the journal); they are still hidden where they sit under a secret name. */
export const MIN_SECRET_LENGTH = 4

/** Longer values are hidden only where they sit under a secret name: a search needs its terms bounded. */
export const MAX_SECRET_LENGTH = 8192

/** A stretch of text to hide: [start, end). */
export type Span = readonly [start: number, end: number]

/**
 * Finds a fixed set of strings (secrets' forms, see appearances) in texts. With `prefilter`
 * (for the config's secrets, made once at load) a regular expression first asks, in native
 * code, whether any string's first ANCHOR characters occur at all: the usual answer is no, and
 * that answer is about five times faster than the automaton's. Its alternatives all have the
 * same few characters, so it cannot backtrack further than that: its time is linear in the
 * text. A run's own matcher has none: it would be compiled per run.
 */
export class SecretMatcher {
  readonly #automaton: Automaton | undefined
  readonly #anchors: RegExp | undefined
  readonly #longest: number

  constructor(forms: readonly string[], options: { prefilter?: boolean } = {}) {
    this.#automaton = forms.length > 0 ? new Automaton(forms) : undefined
    this.#longest = forms.reduce((n, form) => Math.max(n, form.length), 0)
    if (options.prefilter && forms.length > 0) {
      const anchors = new Set(forms.map((form) => form.slice(0, ANCHOR)))
      this.#anchors = new RegExp([...anchors].map(escapeRegExp).join('|'))
    }
  }

  /** Where the strings stand in `text`, each stretch the union of the occurrences that touch it, in order. */
  spans(text: string): Span[] {
    if (!this.#automaton || (this.#anchors && !this.#anchors.test(text))) return []
    return this.#automaton.spans(text)
  }

  /**
   * How many characters at the end of `text` are the beginning of a string: where someone else
   * cut a text short in the middle of a secret, that start has to go too.
   */
  partialTail(text: string): number {
    // No string is longer than the longest: its last characters are all that can begin one.
    return this.#automaton?.openPrefix(text.length > this.#longest ? text.slice(-this.#longest) : text) ?? 0
  }
}

/** The prefilter's characters per string: MIN_SECRET_LENGTH, so every form has them. */
const ANCHOR = 4

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

/** Replaces `spans` (sorted, from one or more matchers) of `text` with ***, merging those that touch. */
export function hideSpans(text: string, spans: readonly Span[]): string {
  if (spans.length === 0) return text
  const sorted = spans.length > 1 ? [...spans].sort((a, b) => a[0] - b[0]) : spans
  let out = ''
  let copied = 0
  let [start, end] = sorted[0]!
  for (let i = 1; i < sorted.length; i++) {
    const [s, e] = sorted[i]!
    if (s <= end) end = Math.max(end, e)
    else {
      out += text.slice(copied, start) + MASK
      copied = end
      ;[start, end] = [s, e]
    }
  }
  return out + text.slice(copied, start) + MASK + text.slice(end)
}

/**
 * The ways a secret shows up in text: as it is; percent-encoded (upper- and lower-case hex,
 * as a form, and as WHATWG URLs encode a query, path or userinfo); HTML-escaped; inside a JSON
 * string, as JavaScript writes it, as PHP does (`/` escaped, non-ASCII as \uXXXX), as HTML-safe
 * encoders and Graph API do (`<>&'"@=` as \u00XX), or with every sign escaped; and each of those
 * inside a JSON string once or twice more (a body echoed as a string, in a log line). Never
 * throws: a lone surrogate is searched for as it is.
 *
 * The forms of a plain token are about 5 times its length in all; of a Cyrillic password about
 * 130 times; of a string made of quotes, backslashes and non-Latin letters over 500 times. So
 * `limit` bounds them: past `limit` characters in all, the making stops and undefined is
 * returned (the work done is at most `limit` plus one form).
 */
export function appearances(secret: string, limit = Number.POSITIVE_INFINITY): string[] | undefined {
  if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) return []
  const forms = new FormSet(limit)
  const whole = secret.replace(LONE_SURROGATE, '\ufffd') // what encodeURIComponent and URL can take
  const percent = encodeURIComponent(whole)
  const plain = [
    secret,
    percent,
    percent.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
    new URLSearchParams({ s: whole }).toString().slice(2),
    secret.replace(/[&<>"']/g, (c) => `&${HTML_ENTITIES[c]};`),
    ...urlEncodings(whole),
  ]
  for (const form of plain) if (!forms.add(form)) return undefined
  for (const form of new Set(plain)) {
    const json = inJson(form)
    for (const written of [json, json.replace(/\//g, '\\/').replace(/[^\x00-\x7f]/g, unicodeEscape), json.replace(/[<>&'@=]/g, unicodeEscape), json.replace(/[^A-Za-z0-9\\]/g, unicodeEscape)]) {
      if (!forms.add(written)) return undefined
      const once = inJson(written)
      if (!forms.add(once) || !forms.add(inJson(once))) return undefined
    }
  }
  return forms.list()
}

/**
 * A lower bound of the characters `appearances` makes for `secret`, counted in one pass without
 * making any: itself, and three forms with every sign and letter beyond A-Z, a-z and 0-9 escaped
 * as \uXXXX (6 characters), that inside a JSON string (7: `\\uXXXX`) and once more (9). They
 * differ in length, so none is a duplicate of another.
 */
export function formsAtLeast(secret: string): number {
  let escaped = 0
  for (let i = 0; i < secret.length; i++) {
    const c = secret.charCodeAt(i)
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 92)) escaped++
  }
  return secret.length + 22 * escaped
}

/** Distinct forms of at least MIN_SECRET_LENGTH characters, up to a total length. */
class FormSet {
  readonly #forms = new Set<string>()
  readonly #limit: number
  #chars = 0

  constructor(limit: number) {
    this.#limit = limit
  }

  /** False once the forms are longer than the limit in all. */
  add(form: string): boolean {
    if (form.length < MIN_SECRET_LENGTH || this.#forms.has(form)) return true
    this.#forms.add(form)
    this.#chars += form.length
    return this.#chars <= this.#limit
  }

  list(): string[] {
    return [...this.#forms]
  }
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

/**
 * Aho-Corasick over UTF-16 code units, with every move costing at most a binary search, whatever
 * strings it was made of: no hash a caller could flood with chosen values, no table as large as
 * the alphabet. The trie is built from the strings sorted, so each state's children come out in
 * order of their code unit and are laid out together: `first[s]` and `count[s]` say where in
 * `codes` and `targets`. The start state, met at almost every character, also has a table of its
 * children by code unit below 256 (1 KiB), and a bit table (8 KiB) of the code units that begin
 * some string, so most characters cost one read. `longest[s]` is the length of the longest string ending in state `s`
 * (through fail links); `depth[s]` is its depth. The scans read the arrays through locals: they
 * are the hot loops of masking.
 */
class Automaton {
  readonly #starts = new Uint32Array(0x10000 >>> 5)
  /** The start state's child by code unit below 256, plus one (0: none). */
  readonly #rootLow = new Int32Array(256)
  readonly #first: Int32Array
  readonly #count: Int32Array
  readonly #codes: Uint16Array
  readonly #targets: Int32Array
  readonly #fail: Int32Array
  readonly #depth: Int32Array
  readonly #longest: Int32Array

  constructor(forms: readonly string[]) {
    const sorted = [...new Set(forms)].sort() // by UTF-16 code units: a prefix before what extends it
    const capacity = 1 + sorted.reduce((n, f) => n + f.length, 0)
    const parent = new Int32Array(capacity)
    const code = new Uint16Array(capacity)
    this.#depth = new Int32Array(capacity)
    this.#longest = new Int32Array(capacity)
    // Each string shares with the one before it the path of their common prefix, and adds the rest.
    const path = [0]
    let size = 1
    let previous = ''
    for (const form of sorted) {
      let shared = 0
      while (shared < previous.length && previous.charCodeAt(shared) === form.charCodeAt(shared)) shared++
      for (let d = shared; d < form.length; d++) {
        parent[size] = path[d]!
        code[size] = form.charCodeAt(d)
        this.#depth[size] = d + 1
        path[d + 1] = size++
      }
      this.#longest[path[form.length]!] = form.length
      previous = form
    }
    // Children by parent, in the order they were made: by code unit, since the strings were sorted.
    this.#count = new Int32Array(size)
    for (let s = 1; s < size; s++) this.#count[parent[s]!]!++
    this.#first = new Int32Array(size)
    for (let s = 1, at = 0; s < size; s++) {
      this.#first[s] = at += this.#count[s - 1]!
    }
    const next = Int32Array.from(this.#first)
    this.#codes = new Uint16Array(size)
    this.#targets = new Int32Array(size)
    for (let s = 1; s < size; s++) {
      const slot = next[parent[s]!]!++
      this.#codes[slot] = code[s]!
      this.#targets[slot] = s
      if (parent[s] === 0) {
        this.#starts[code[s]! >>> 5]! |= 1 << (code[s]! & 31)
        if (code[s]! < 256) this.#rootLow[code[s]!] = s + 1
      }
    }
    this.#fail = new Int32Array(size)
    this.#link(parent.subarray(0, size), code.subarray(0, size), size)
  }

  /** The child of `state` by code unit `c`, or -1: a binary search of its children. */
  #child(state: number, c: number): number {
    if (state === 0 && c < 256) return this.#rootLow[c]! - 1
    let lo = this.#first[state]!
    let hi = lo + this.#count[state]! - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const at = this.#codes[mid]!
      if (at === c) return this.#targets[mid]!
      if (at < c) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }

  /** The state after `state` reads `c`, following fail links. */
  #step(state: number, c: number): number {
    for (;;) {
      const next = this.#child(state, c)
      if (next !== -1) return next
      if (state === 0) return 0
      state = this.#fail[state]!
    }
  }

  /** Fail links in order of depth: the longest proper suffix of each state that is also a state. */
  #link(parent: Int32Array, code: Uint16Array, size: number): void {
    for (const state of byDepth(this.#depth, size)) {
      const up = parent[state]!
      if (up === 0) continue // fail = 0
      this.#fail[state] = this.#step(this.#fail[up]!, code[state]!)
      this.#longest[state] = Math.max(this.#longest[state]!, this.#longest[this.#fail[state]!]!)
    }
  }

  /**
   * Every match. Spans that touch are merged as they are found, in two arrays of numbers (a
   * secret that overlaps itself matches at every character of a long run: no allocation per match).
   */
  spans(text: string): Span[] {
    const starts: number[] = []
    const ends: number[] = []
    let open = 0 // spans so far, the last of which may still grow
    const startBits = this.#starts
    const rootLow = this.#rootLow
    const longest = this.#longest
    let state = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (state !== 0) state = this.#step(state, c)
      else if (c < 256) {
        state = rootLow[c]! - 1
        if (state === -1) {
          state = 0
          continue
        }
      } else if ((startBits[c >>> 5]! & (1 << (c & 31))) === 0) continue
      else state = this.#step(0, c)
      const length = longest[state]!
      if (length === 0) continue
      let start = i + 1 - length
      // A long match may reach back over earlier ones: they become one.
      while (open > 0 && start <= ends[open - 1]!) start = Math.min(start, starts[--open]!)
      starts[open] = start
      ends[open++] = i + 1
    }
    const spans: Span[] = []
    for (let k = 0; k < open; k++) spans.push([starts[k]!, ends[k]!])
    return spans
  }

  /** The length of the longest end of `text` that begins some string. */
  openPrefix(text: string): number {
    let state = 0
    for (let i = 0; i < text.length; i++) state = this.#step(state, text.charCodeAt(i))
    return this.#depth[state]!
  }
}

/** States 1..size-1 ordered by depth (a counting sort): parents before children, as the fail links need. */
function byDepth(depth: Int32Array, size: number): Int32Array {
  let deepest = 0
  for (let s = 1; s < size; s++) deepest = Math.max(deepest, depth[s]!)
  const start = new Int32Array(deepest + 2)
  for (let s = 1; s < size; s++) start[depth[s]! + 1]!++
  for (let d = 1; d <= deepest + 1; d++) start[d]! += start[d - 1]!
  const order = new Int32Array(Math.max(0, size - 1))
  for (let s = 1; s < size; s++) order[start[depth[s]!]!++] = s
  return order
}
