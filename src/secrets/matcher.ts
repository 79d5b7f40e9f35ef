/**
 * Finding known secret values in text: one regular expression for all of them, longest first,
 * so that masking costs one pass over the text however many secrets there are, and a secret
 * that contains another, or overlaps it, is hidden whole.
 */

export const MASK = '***'

/** Shorter values are not searched for in text (hiding every "on" would garble the journal); they are still hidden where they sit under a secret name. */
export const MIN_SECRET_LENGTH = 4

export class SecretMatcher {
  /** Every form of every secret, longest first. */
  readonly #forms: string[]
  readonly #pattern: RegExp | undefined

  constructor(secrets: Iterable<string>) {
    const forms = new Set<string>()
    for (const secret of secrets) for (const form of appearances(secret)) forms.add(form)
    this.#forms = [...forms].sort((a, b) => b.length - a.length)
    this.#pattern = this.#forms.length > 0 ? new RegExp(this.#forms.map(escapeRegExp).join('|'), 'g') : undefined
  }

  /**
   * Replaces every secret in `text` with ***. Matches that overlap (the end of one secret is the
   * start of another) are found too and hidden as one.
   */
  mask(text: string): string {
    const pattern = this.#pattern
    if (pattern === undefined) return text
    pattern.lastIndex = 0
    let match = pattern.exec(text)
    if (match === null) return text
    let out = ''
    let copied = 0
    let start = match.index
    let end = start + match[0].length
    for (;;) {
      // Look again from the next character, not from the end: another secret may begin inside this one.
      pattern.lastIndex = match.index + 1
      match = pattern.exec(text)
      if (match !== null && match.index <= end) {
        end = Math.max(end, match.index + match[0].length)
        continue
      }
      out += text.slice(copied, start) + MASK
      copied = end
      if (match === null) break
      start = match.index
      end = start + match[0].length
    }
    return out + text.slice(copied)
  }

  /**
   * How many characters at the end of `text` are the beginning of a secret: where someone else
   * cut a text short in the middle of a secret, that start has to go too.
   */
  partialTail(text: string): number {
    const last = text.at(-1)
    if (last === undefined) return 0
    let longest = 0
    for (const form of this.#forms) {
      // Only prefixes that end with the text's last character can be what was left.
      for (let i = form.indexOf(last); i !== -1 && i < form.length - 1; i = form.indexOf(last, i + 1)) {
        if (i + 1 > longest && text.endsWith(form.slice(0, i + 1))) longest = i + 1
      }
    }
    return longest
  }
}

/**
 * The ways a secret shows up in text hookrelay writes: as it is, percent-encoded (also as a form
 * and as WHATWG URLs encode a query, path or userinfo), and inside a JSON string (also one that
 * is itself inside JSON, as in a log line).
 */
export function appearances(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1)
  const forms = new Set([
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    json,
    JSON.stringify(json).slice(1, -1),
    ...urlEncodings(secret),
  ])
  return [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH)
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
