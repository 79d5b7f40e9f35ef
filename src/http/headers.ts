/**
 * Header checks shared by outgoing requests and answers, by Node's own rules (undici applies
 * the same): a valid name, and a value of tab, printable ASCII and Latin-1 only. Constant values
 * are checked at load; values a template renders are checked when rendered.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http'
import type { BuildContext, PathKey } from '../actions/types.js'
import { hookrelayError } from '../errors.js'

const TEMPLATED = /\{\{|\{%/

/** At load: every configured header has a valid name, and a value HTTP can carry (its constant text, when templated). */
export function checkHeaderConfig(headers: Record<string, unknown>, key: readonly PathKey[], build: BuildContext): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!isValidHeaderName(name)) build.problem(key, `'${name}' is not a valid header name`, name)
    const problem = headerValueProblem(constantText(String(value)))
    if (problem) build.problem([...key, name], `${problem}, which an HTTP header cannot carry; ${HEADER_ADVICE}`)
  }
}

/** At load: a status text HTTP can carry (the same rule as a header value). */
export function checkStatusText(text: string | undefined, key: readonly PathKey[], build: BuildContext): void {
  const problem = text === undefined ? undefined : headerValueProblem(text)
  if (problem) build.problem(key, `${problem}, which an HTTP status line cannot carry; use Latin letters`)
}

/** At run time: data can carry a line break or Cyrillic into a rendered header; refuse it with a clear error. */
export function checkHeaderValues(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    const problem = headerValueProblem(value)
    if (problem) throw hookrelayError('HR_BAD_HEADER', [name, problem, HEADER_ADVICE])
  }
}

const HEADER_ADVICE = 'put such text in the body, or pass it through the url_encode filter'

/** What Node would refuse in a header value, in words; undefined when it is fine. */
export function headerValueProblem(value: string): string | undefined {
  try {
    validateHeaderValue('x', value)
    return undefined
  } catch {
    const bad = /[^\t\x20-\x7e\x80-\xff]/.exec(value)?.[0] ?? ''
    if (bad === '\r' || bad === '\n') return 'a line break'
    if (bad.charCodeAt(0) > 0xff) return `a character outside Latin-1 ('${bad}'; Cyrillic is such)`
    return 'a control character'
  }
}

function isValidHeaderName(name: string): boolean {
  try {
    validateHeaderName(name)
    return true
  } catch {
    return false
  }
}

/** The text of a value around its template expressions, which are checked when rendered. */
function constantText(value: string): string {
  return TEMPLATED.test(value) ? value.replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, '') : value
}

/** True when `headers` names `name`, in any letter case. */
export function hasHeader(headers: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase()
  return Object.keys(headers).some((h) => h.toLowerCase() === lower)
}
