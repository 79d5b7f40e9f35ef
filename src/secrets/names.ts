/**
 * Which names mark a secret: header, query, form and JSON field names, and config keys. A name
 * is compared lower-cased without `-`, `_` and `.`, so `accessToken`, `access_token`,
 * `X-Api-Key`, `apitoken` and `client_secret` all count. README's Masking section lists both
 * lists below (a test checks that it does).
 */

/** A name that contains one of these, once normalised, marks a secret. */
export const SECRET_NAME_PARTS = [
  'token',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'key',
  'auth',
  'signature',
  'secure',
  'cookie',
  'hmac',
  'bearer',
  'jwt',
] as const

/** Whole names that contain a part but hold no secret (normalised): hiding them would only garble the journal. */
export const NOT_SECRET_NAMES = ['author', 'authors', 'keyword', 'keywords', 'utmkeyword'] as const

const PART = new RegExp(SECRET_NAME_PARTS.join('|'))
const NOT_SECRET = new Set<string>(NOT_SECRET_NAMES)
const SEPARATORS = /[-_.]/g

/** `X-Api-Key` -> `xapikey`: the form names are compared in. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(SEPARATORS, '')
}

const known = new Map<string, boolean>()
const KNOWN_LIMIT = 10_000

/** True for a name that holds credentials (answers are remembered: the same names come again and again). */
export function isSecretName(name: string): boolean {
  let secret = known.get(name)
  if (secret === undefined) {
    const normal = normalizeName(name)
    secret = PART.test(normal) && !NOT_SECRET.has(normal)
    if (known.size >= KNOWN_LIMIT) known.clear()
    known.set(name, secret)
  }
  return secret
}

/**
 * False when no name inside `text` can be a secret's: no part occurs in it, in any letter case,
 * with or without separators between its letters. A quick test before a body is parsed to look
 * for secret-named fields.
 */
export function mayNameSecret(text: string): boolean {
  return ANY_PART.test(text)
}

const ANY_PART = new RegExp(SECRET_NAME_PARTS.map((part) => [...part].join('[-_.]*')).join('|'), 'iu')
