/** The answer a caller gets: a source's `response` (or `on_error`), rendered after the run. */
import type { FastifyReply } from 'fastify'
import type { BuildContext } from '../actions/types.js'
import type { AnswerConfig } from '../config/schema.js'
import { hookrelayError, type HookrelayError } from '../errors.js'
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
}

export function compileAnswer(config: AnswerConfig | undefined, defaultStatus: number, build: BuildContext): CompiledAnswer {
  checkHeaderConfig(config?.headers ?? {}, ['headers'], build)
  checkStatusText(config?.status_text, ['status_text'], build)
  const headers = Object.entries(config?.headers ?? {}).map(([name, value]) => [name, build.template(value, ['headers', name])] as const)
  const body: Template | undefined = config?.body === undefined ? undefined : build.template(config.body, ['body'])
  const status = config?.status ?? defaultStatus

  return {
    constantHeaders: Object.fromEntries(headers.filter(([, t]) => t.constant).map(([name, t]) => [name, t.render({})])),
    render(scope) {
      const rendered = Object.fromEntries(headers.map(([name, t]) => [name, t.render(scope)]))
      checkHeaderValues(rendered)
      const text = body?.render(scope) ?? ''
      return { status, statusText: config?.status_text, headers: withContentType(rendered, text), body: text }
    },
  }
}

/**
 * The answer as the caller gets it and the journal keeps it: status text, headers and body
 * masked with the run's secrets (an upstream may echo a token the run sent).
 */
export function maskAnswer(mask: Masker, answer: Answer): Masked<Answer> {
  return mask.exchange(answer)
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

/** The default answer when an action fails and no `on_error` is configured: 500 and a JSON error. */
export function defaultErrorAnswer(step: string, message: string, runId: string): Answer {
  return errorAnswer(hookrelayError('HR_ACTION_FAILED', [step, message]), runId)
}
