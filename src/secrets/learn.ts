/**
 * Where secrets enter a run besides the config: credentials in headers (`Bearer X` is learned
 * as both `Bearer X` and `X`), URL userinfo, and fields with secret names.
 */
import type { Budget, Masker } from './masker.js'
import { isSecretName } from './names.js'
import { KEY_AS_USER_LENGTH, safeDecode, userinfoSpans } from './urls.js'

/**
 * The secrets in secret-named headers: the whole value, the credentials after an auth scheme,
 * and for Basic the decoded `user:password` and the password.
 */
export function headerSecrets(headers: Record<string, unknown>): string[] {
  const secrets: string[] = []
  for (const [name, value] of Object.entries(headers)) {
    if (!isSecretName(name)) continue
    for (const one of Array.isArray(value) ? value : [value]) if (typeof one === 'string') secrets.push(...credentialParts(one))
  }
  return secrets
}

/** `Bearer X` -> ['Bearer X', 'X']; `Basic b64` also gives the decoded `user:password` and the password. */
export function credentialParts(value: string): string[] {
  const parts = [value]
  const scheme = /^([A-Za-z][\w-]*)\s+(\S.*)$/.exec(value.trim())
  if (!scheme) return parts
  const [, name, credentials] = scheme as unknown as [string, string, string]
  parts.push(credentials)
  if (name.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon !== -1) parts.push(decoded, decoded.slice(colon + 1))
  }
  return parts
}

/**
 * Learns the userinfo of every URL in `text`: the password, or a user name long enough to be an
 * API key when there is no password. Both as written and decoded. A run learns them within
 * `budget` (a rendered URL can hold any number of them).
 */
export function learnUserinfo(mask: Masker, text: string, budget?: Budget): void {
  if (!text.includes('@')) return
  const spans = userinfoSpans(text)
  for (const [i, { start, end }] of spans.entries()) {
    // A full budget takes no more: the rest are counted, not looked at (a URL can hold thousands).
    if (mask.full(budget)) {
      mask.notLearned(spans.length - i)
      return
    }
    const userinfo = text.slice(start, end)
    const colon = userinfo.indexOf(':')
    const secret = colon === -1 ? userinfo : userinfo.slice(colon + 1)
    if (colon === -1 && secret.length < KEY_AS_USER_LENGTH) continue
    if (mask.learn(secret, budget)) mask.learn(safeDecode(secret), budget)
  }
}
