/** Hiding the secrets a URL carries where they sit: its userinfo, a webhook's key, secret-named query parameters. */
import { MASK } from './matcher.js'
import { isSecretName } from './names.js'

/** `scheme://userinfo@`, anywhere in a text. */
export const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*)@/gi

/** A URL with its userinfo replaced by ***, for the journal. */
export function hideUserinfo(url: string): string {
  return url.includes('@') ? url.replace(USERINFO, `$1${MASK}@`) : url
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
