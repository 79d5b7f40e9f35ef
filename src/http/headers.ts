/** Header checks shared by outgoing requests and answers: valid names, no CR/LF in values. */
import type { BuildContext, PathKey } from '../actions/types.js'
import { hookrelayError } from '../errors.js'

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** At load: every configured header has a valid name and a value without CR or LF. */
export function checkHeaderConfig(headers: Record<string, unknown>, key: readonly PathKey[], build: BuildContext): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) build.problem(key, `'${name}' is not a valid header name`, name)
    if (/[\r\n]/.test(String(value))) build.problem([...key, name], 'a header value may not contain CR or LF')
  }
}

/** At run time: data can carry CR/LF into a rendered header; refuse it with a clear error. */
export function checkHeaderValues(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) if (/[\r\n]/.test(value)) throw hookrelayError('HR_BAD_HEADER', [name])
}

/** True when `headers` names `name`, in any letter case. */
export function hasHeader(headers: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase()
  return Object.keys(headers).some((h) => h.toLowerCase() === lower)
}
