/** Hiding the secrets a URL carries where they sit: its userinfo, a webhook's key, secret-named query parameters. */
import { MASK } from './matcher.js'
import { isSecretName } from './names.js'

/** Where a URL's userinfo stands in a text: from after `scheme://` to before its `@`. */
export interface UserinfoSpan {
  start: number
  end: number
}

/**
 * The userinfo of every `scheme://userinfo@` in `text` (a scheme: a letter, then letters,
 * digits, `+`, `.`, `-`; userinfo: no white space, `/`, `?`, `#` or `@`). A scan, not a regular
 * expression: one with a scheme's run of letters backtracks at every start of a long word (40,000
 * letters took 10 s). Each character is read at most twice: a scheme is read back from its `://`
 * only up to the characters no scheme holds, and a userinfo forward up to its first `/`, which
 * the next `://` holds.
 */
export function userinfoSpans(text: string): UserinfoSpan[] {
  const spans: UserinfoSpan[] = []
  for (let sep = text.indexOf('://'); sep !== -1; sep = text.indexOf('://', sep + 3)) {
    if (!hasScheme(text, sep)) continue
    const start = sep + 3
    let end = start
    while (end < text.length && !endsUserinfo(text.charCodeAt(end))) end++
    if (text.charCodeAt(end) === 64 /* @ */) spans.push({ start, end })
  }
  return spans
}

/** Whether a scheme ends at `sep`: among the scheme characters just before it, one is a letter (where the scheme starts). */
function hasScheme(text: string, sep: number): boolean {
  let letter = false
  for (let i = sep - 1; i >= 0; i--) {
    const c = text.charCodeAt(i)
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) letter = true
    else if (!((c >= 48 && c <= 57) || c === 43 || c === 46 || c === 45)) break // digits, + . -
  }
  return letter
}

/** White space (as \s has it), `/`, `?`, `#` and `@` end a userinfo. */
function endsUserinfo(c: number): boolean {
  if (c === 47 || c === 63 || c === 35 || c === 64 || c === 32 || (c >= 9 && c <= 13)) return true
  if (c < 0xa0) return false
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
}

/** A URL with its userinfo replaced by ***, for the journal. */
export function hideUserinfo(url: string): string {
  if (!url.includes('@')) return url
  const spans = userinfoSpans(url)
  if (spans.length === 0) return url
  let out = ''
  let copied = 0
  for (const { start, end } of spans) {
    out += url.slice(copied, start) + MASK
    copied = end
  }
  return out + url.slice(copied)
}

/** `/hooks/<id>/<key>...` with the key hidden. */
export function hideHookKey(url: string): string {
  return url.replace(/^(\/hooks\/[^/?#]*\/)[^/?#]+/, `$1${MASK}`)
}

/** A request target for the log: the webhook key and the values of secret-named query parameters hidden. */
export function hideRequestTarget(target: string): string {
  const path = hideHookKey(target)
  const q = path.indexOf('?')
  if (q === -1) return path
  const query = new URLSearchParams(path.slice(q + 1))
  let hidden = false
  for (const name of new Set(query.keys())) {
    if (!isSecretName(name)) continue
    query.set(name, MASK)
    hidden = true
  }
  return hidden ? `${path.slice(0, q)}?${query.toString()}` : path
}

/** A URL for the journal: its userinfo and the values of its secret-named query parameters hidden. */
export function hideUrlSecrets(url: string): string {
  const bare = hideUserinfo(url)
  const q = bare.indexOf('?')
  if (q === -1) return bare
  const hash = bare.indexOf('#', q)
  const end = hash === -1 ? bare.length : hash
  const query = new URLSearchParams(bare.slice(q + 1, end))
  let hidden = false
  const out = new URLSearchParams()
  for (const [name, value] of query) {
    const secret = value !== '' && isSecretName(name)
    hidden ||= secret
    out.append(name, secret ? MASK : value)
  }
  return hidden ? `${bare.slice(0, q)}?${out.toString()}${bare.slice(end)}` : bare
}

/**
 * What of a URL can be a credential: its password and a user name long enough to be a key
 * (`https://ghp_...:x-oauth-basic@github.com`), the values of its secret-named query parameters,
 * and each query value, fragment or path segment that looks like a key (`?code=`, `&sig=` are
 * keys without a secret name): one with a digit from 6 characters (`/hooks/catch/1234567/b3xk9qz/`),
 * any from 16 (a bot's `bot123:AAE...`, a webhook's last segment). Words (`/api/v1/contacts`,
 * `?format=json`) stay: masking them would blot them out of every text of the journal.
 * Undefined when `text` is not a URL: then all of it is the secret. A base URL from the
 * environment is learned by these alone, so the journal still shows which server was called;
 * a key of letters alone under 16 characters in a path is not recognised (give it a variable of
 * its own).
 */
export function urlCredentials(text: string): string[] | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^\s]*$/i.test(text) || !URL.canParse(text)) return undefined
  const url = new URL(text)
  const found: string[] = []
  const add = (raw: string) => raw !== '' && found.push(raw, safeDecode(raw))
  const keyLike = (part: string) => part.length >= 16 || (part.length >= 6 && /\d/.test(part))
  add(url.password)
  if (url.username.length >= KEY_AS_USER_LENGTH) add(url.username)
  for (const pair of url.search.slice(1).split('&')) {
    const value = pair.slice(pair.indexOf('=') + 1)
    if (keyLike(value) || isSecretName(safeDecode(pair.slice(0, Math.max(0, pair.indexOf('=')))))) add(value)
  }
  if (keyLike(url.hash.slice(1))) add(url.hash.slice(1))
  for (const segment of url.pathname.split('/')) if (keyLike(segment)) add(segment)
  return found
}

/** A user name alone counts as a secret from this length (`https://KEY@host`); shorter ones are logins. */
export const KEY_AS_USER_LENGTH = 12

/** Percent-decoded, or as it is when it does not decode. */
export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
