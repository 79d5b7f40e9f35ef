/** The answer a caller gets: a source's `response` (or `on_error`), rendered after the run. */
import type { FastifyReply } from 'fastify'
import type { BuildContext } from '../actions/types.js'
import type { AnswerConfig } from '../config/schema.js'
import { hookrelayError, type ErrorCode, type Fault, type HookrelayError } from '../errors.js'
import type { Scope, Template } from '../pipeline/template.js'
import { parseJsonBody } from '../actions/http-call.js'
import { checkHeaderConfig, checkHeaderValues, checkStatusText, hasHeader } from '../http/headers.js'
import type { Masked, Masker } from '../secrets/masker.js'

export interface Answer {
  status: number
  statusText?: string | undefined
  headers: Record<string, string>
  body: string
}

export interface CompiledAnswer {
  /** Renders the answer; throws when a template fails (the caller then gets the error answer). */
  render(scope: Scope): Answer
  /** Headers that need no run to render (for CORS preflights). */
  readonly constantHeaders: Record<string, string>
  /** The body and status text when they need no run to render. */
  readonly constantBody: string | undefined
  readonly statusText: string | undefined
}

export function compileAnswer(config: AnswerConfig | undefined, defaultStatus: number, build: BuildContext): CompiledAnswer {
  checkHeaderConfig(config?.headers ?? {}, ['headers'], build)
  checkStatusText(config?.status_text, ['status_text'], build)
  const headers = Object.entries(config?.headers ?? {}).map(([name, value]) => [name, build.template(value, ['headers', name])] as const)
  const body: Template | undefined = config?.body === undefined ? undefined : build.template(config.body, ['body'])
  const status = config?.status ?? defaultStatus

  const render = (scope: Scope): Answer => {
    const rendered = Object.fromEntries(headers.map(([name, t]) => [name, t.render(scope)]))
    checkHeaderValues(rendered)
    const text = body?.render(scope) ?? ''
    return { status, statusText: config?.status_text, headers: withContentType(rendered, text), body: text }
  }
  // An answer with no template in it is the same for every run: made once (its JSON is parsed
  // once to label it), and frozen, since every run is given the same object.
  const fixed = headers.every(([, t]) => t.constant) && (body === undefined || body.constant) ? renderedOnce(render) : undefined
  return {
    constantHeaders: Object.fromEntries(headers.filter(([, t]) => t.constant).map(([name, t]) => [name, t.render({})])),
    constantBody: body?.constant ? body.render({}) : undefined,
    statusText: config?.status_text,
    render: fixed ? () => fixed : render,
  }
}

/** The constant answer, frozen; none when it fails (a bad header value): then each run fails on it, as it would otherwise. */
function renderedOnce(render: (scope: Scope) => Answer): Answer | undefined {
  try {
    const answer = render({})
    Object.freeze(answer.headers)
    return Object.freeze(answer)
  } catch {
    return undefined
  }
}

/**
 * The answer as the caller gets it and the journal keeps it: status text, headers and body
 * masked with the run's secrets (an upstream may echo a token the run sent).
 */
export function maskAnswer(mask: Masker, answer: Answer): Masked<Answer> {
  return mask.exchange(answer)
}

/**
 * An answer from the journal's copy, as it was sent. The journal masks every secret, also one the
 * operator wrote into an answer (a header from `${ORIGIN}`, a code in a constant body), which the
 * caller got as written. So a part of `kept` that `answer` (the one that made it: the source's
 * response or its on_error) makes without a run is taken from the config, when `kept` holds
 * exactly that part masked: a duplicate gets what the first caller got. Other parts stay as kept.
 */
export function restoreAnswer(kept: Answer, answer: CompiledAnswer, mask: Masker): Answer {
  const headers = { ...kept.headers }
  const wasMasked = (written: string, stored: string | undefined) => written !== stored && mask.text(written) === stored
  for (const [name, value] of Object.entries(answer.constantHeaders)) {
    if (Object.hasOwn(headers, name) && value !== kept.headers[name] && (mask.value({ [name]: value }) as Record<string, string>)[name] === kept.headers[name]) headers[name] = value
  }
  const body = answer.constantBody !== undefined && wasMasked(answer.constantBody, kept.body) ? answer.constantBody : kept.body
  const statusText = answer.statusText !== undefined && wasMasked(answer.statusText, kept.statusText) ? answer.statusText : kept.statusText
  return { status: kept.status, statusText, headers, body }
}

const RUN_HEADER = 'x-hookrelay-run'

/** Every answer hookrelay's routes send leaves here, and only a masked one can. */
export function sendAnswer(reply: FastifyReply, answer: Masked<Answer>, runId?: string): FastifyReply {
  reply.code(answer.status)
  if (answer.statusText) reply.raw.statusMessage = answer.statusText
  reply.headers(answer.headers)
  if (runId) reply.header(RUN_HEADER, runId)
  return reply.send(answer.body)
}

/** A body without a declared type is labelled JSON when it looks like JSON, else plain text. */
function withContentType(headers: Record<string, string>, body: string): Record<string, string> {
  if (body === '' || hasHeader(headers, 'content-type')) return headers
  const type = looksLikeJson(body) ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8'
  return { ...headers, 'content-type': type }
}

/** Parses small bodies to be sure; a large one is judged by its brackets (it is only a label). */
function looksLikeJson(body: string): boolean {
  if (body.length <= 65_536) return parseJsonBody(body) !== null
  return /^\s*[[{]/.test(body) && /[\]}]\s*$/.test(body)
}

/** The JSON answer for an error that ends a request, with the status from the error table. */
export function errorAnswer(err: HookrelayError, runId?: string): Answer {
  const body: Record<string, unknown> = { error: err.message, code: err.code }
  if (runId) body['run_id'] = runId
  return { status: err.status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) }
}

/** Step errors that are the fault of the service a step calls: a retry later may succeed. */
const UPSTREAM_FAULTS: ReadonlySet<ErrorCode> = new Set(['HR_UPSTREAM_STATUS', 'HR_UPSTREAM_TIMEOUT', 'HR_UPSTREAM_NETWORK', 'HR_SERVICE_ERROR', 'HR_EMAIL_FAILED'])

/**
 * The default answer when an action fails and no `on_error` is configured, by whose the fault
 * is: 422 for the caller's request (a field or JSON it did not send; do not retry), 502 for the
 * service the step calls (retry later), 503 when shutdown stopped the run, else 500 (the config,
 * or hookrelay).
 */
export function defaultErrorAnswer(step: string, message: string, runId: string, cause: { code?: ErrorCode; fault?: Fault } = {}): Answer {
  const code: ErrorCode = cause.fault === 'caller'
    ? 'HR_INPUT_REJECTED'
    : cause.fault === 'upstream' || (cause.code && UPSTREAM_FAULTS.has(cause.code))
      ? 'HR_UPSTREAM_FAILED'
      : cause.code === 'HR_RUN_ABORTED'
        ? 'HR_SHUTTING_DOWN'
        : 'HR_ACTION_FAILED'
  if (code === 'HR_SHUTTING_DOWN') return errorAnswer(hookrelayError(code), runId)
  return errorAnswer(hookrelayError(code, [step, message]), runId)
}
