// Which names mark a secret: header, query, form and JSON field names, and config keys. A name
// is compared lower-cased without `-`, `_` and `.`, so `accessToken`, `access_token`,
// `X-Api-Key`, `apitoken` and `client_secret` all count. docs/security.md's Masking section lists
// both lists below (a test checks that it does). Plain JavaScript: the journal's writer thread
// (search-text.mjs) leaves secret-named values out of the search index by this same rule.

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
]

/** Whole names that contain a part but hold no secret (normalised): hiding them would only garble the journal. */
export const NOT_SECRET_NAMES = ['author', 'authors', 'keyword', 'keywords', 'utmkeyword']

// A part, in any letter case, with any of `-`, `_` and `.` between its letters: what "the name
// lower-cased without separators contains the part" means, without making that name first.
const ANY_PART = new RegExp(SECRET_NAME_PARTS.map(spelled).join('|'), 'iu')
const NOT_SECRET = new RegExp(`^[-_.]*(?:${NOT_SECRET_NAMES.map(spelled).join('|')})[-_.]*$`, 'iu')

function spelled(word) {
  return [...word].join('[-_.]*')
}

// Names already judged: the same few header and field names come with every request.
const judged = new Map()
const JUDGED_LIMIT = 4096

/** True for a name that holds credentials. */
export function isSecretName(name) {
  let secret = judged.get(name)
  if (secret === undefined) {
    secret = ANY_PART.test(name) && !NOT_SECRET.test(name)
    if (judged.size >= JUDGED_LIMIT) judged.clear() // names a sender makes up cannot grow it without end
    if (name.length <= 256) judged.set(name, secret)
  }
  return secret
}

/**
 * False when no name inside `text` can be a secret's: no part occurs anywhere in it. A quick
 * test before a body is parsed to look for secret-named fields.
 */
export function mayNameSecret(text) {
  return ANY_PART.test(text)
}
