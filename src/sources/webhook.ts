/**
 * The webhook routes, `/hooks/<id>` and `/hooks/<id>/<key>`. Before the body is read: the
 * pipeline and key are checked (unknown and wrong both get the same 404, counted, never journaled),
 * CORS preflights are answered and methods filtered. Then: snapshot -> executor -> reply.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { hookrelayError, HookrelayError } from '../errors.js'
import type { CompiledPipeline } from '../pipeline/compile.js'
import type { Executor, RunResult } from '../pipeline/executor.js'
import type { PipelineSet } from '../pipeline/pipeline-set.js'
import { MASK } from '../secrets/matcher.js'
import type { Masked, Masker } from '../secrets/masker.js'
import { errorAnswer, maskAnswer, sendAnswer, type Answer } from './answer.js'
import { parseBody, registerBodyParsers, type ParsedBody } from './body.js'
import type { IncomingRequest } from './incoming.js'

export interface WebhookOptions {
  pipelines: PipelineSet
  executor: Executor
  /** server.body_limit, for the 413 message. */
  bodyLimit: number
  /** Called for every 404, which is counted but never journaled. */
  /** A request that found no pipeline: which id it named, and whether the id is known (then the key was wrong). */
  onNotFound: (miss: { pipeline: string; known: boolean }) => void
  /** The config's secrets: for answers that belong to no run. */
  masker: Masker
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

type Params = { pipeline: string; key?: string }

export async function webhookRoutes(app: FastifyInstance, options: WebhookOptions): Promise<void> {
  registerBodyParsers(app)
  const matched = new WeakMap<FastifyRequest, CompiledPipeline>()
  /** Requests that have their run: whatever goes wrong after that, no second run is kept. */
  const ran = new WeakSet<FastifyRequest>()
  const { executor, masker } = options

  const notFound = (reply: FastifyReply, pipeline: string, known: boolean) => {
    options.onNotFound({ pipeline, known })
    return sendAnswer(reply, maskAnswer(masker, errorAnswer(hookrelayError('HR_NOT_FOUND'))))
  }

  // Callback style: it runs on every request, and only a wrong method needs to wait (to keep it).
  function onRequest(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, done: (err?: Error) => void): void {
    const pipeline = options.pipelines.get(request.params.pipeline)
    if (!pipeline || !pipeline.source.keyMatches(request.params.key)) return void notFound(reply, request.params.pipeline, pipeline !== undefined)
    matched.set(request, pipeline)
    // Its headers are the operator's, written in the config: sent as written (see Masker.render).
    if (isPreflight(request, pipeline)) return void sendAnswer(reply, masker.render({}, () => preflightAnswer(request, pipeline, masker)))
    const { methods } = pipeline.source
    if (!methods || methods.has(request.method)) return done()
    const allowed = [...methods].join(', ')
    const err = hookrelayError('HR_METHOD_NOT_ALLOWED', [request.method, allowed])
    keepOrRefuse(() => executor.reject(pipeline, incoming(request), err, { log: request.log }), masker).then(
      (result) => sendAnswer(reply.header('allow', allowed), result.answer, result.runId),
      (failure: Error) => done(failure),
    )
  }

  async function handler(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const pipeline = matched.get(request)!
    // With respond: on_receipt the answer comes as soon as the run is kept; the run goes on.
    const answered = new Promise<RunResult>((resolve, reject) => {
      executor.receive(pipeline, incoming(request), { log: request.log, respondEarly: resolve, onKept: () => ran.add(request) }).then(resolve, reject)
    })
    const result = await keepOrRefuse(() => answered, masker)
    return sendAnswer(reply, result.answer, result.runId)
  }

  for (const url of ['/hooks/:pipeline', '/hooks/:pipeline/:key']) {
    app.route<{ Params: Params }>({ method: METHODS, url, exposeHeadRoute: false, onRequest, handler })
  }

  // Body errors Fastify raises before the handler (too large, unsupported type) are kept as rejected runs.
  app.setErrorHandler(async (error, request, reply) => {
    const err = toHookrelayError(error as FastifyError, request, options.bodyLimit)
    if (err.status >= 500) request.log.error({ err: error }, 'request failed')
    const pipeline = matched.get(request)
    // A request whose run is kept already is not kept again: one request, one run.
    if (!pipeline || ran.has(request)) return sendAnswer(reply, maskAnswer(masker, errorAnswer(err)))
    const result = await keepOrRefuse(() => executor.reject(pipeline, incoming(request, emptyBody()), err, { log: request.log }), masker)
    return sendAnswer(reply, result.answer, result.runId)
  })
}

/** The journal could not take the request: the sender is told to send it again. */
const RETRY_LATER = new Set(['HR_JOURNAL_UNAVAILABLE', 'HR_JOURNAL_BUSY'])

/** Runs `keep`; when the journal cannot keep the request, answers 503 so the sender retries. */
async function keepOrRefuse(keep: () => Promise<RunResult>, masker: Masker): Promise<{ answer: Masked<Answer>; runId?: string }> {
  try {
    return await keep()
  } catch (err) {
    if (err instanceof HookrelayError && RETRY_LATER.has(err.code)) {
      const answer = errorAnswer(err)
      return { answer: maskAnswer(masker, { ...answer, headers: { ...answer.headers, 'retry-after': '5' } }) }
    }
    throw err
  }
}

function incoming(request: FastifyRequest, body?: ParsedBody): IncomingRequest {
  const { pipeline, key } = request.params as Params
  return {
    method: request.method,
    path: key === undefined ? `/hooks/${pipeline}` : `/hooks/${pipeline}/${MASK}`,
    query: (request.query ?? {}) as Record<string, unknown>,
    headers: request.headers as Record<string, string>, // only set-cookie is a list, and requests do not send it
    body: body ?? (request.body as ParsedBody | undefined) ?? emptyBody(),
    receivedAt: new Date(),
  }
}

function emptyBody(): ParsedBody {
  return parseBody(Buffer.alloc(0), undefined)
}

/** A CORS preflight to a source whose answer allows an origin is answered from its headers. */
function isPreflight(request: FastifyRequest, pipeline: CompiledPipeline): boolean {
  if (request.method !== 'OPTIONS' || !request.headers['access-control-request-method']) return false
  if (pipeline.source.methods?.has('OPTIONS')) return false
  return Object.keys(pipeline.source.answer.constantHeaders).some((h) => h.toLowerCase() === 'access-control-allow-origin')
}

function preflightAnswer(request: FastifyRequest, pipeline: CompiledPipeline, masker: Masker): Answer {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(pipeline.source.answer.constantHeaders)) {
    if (name.toLowerCase().startsWith('access-control-')) headers[name.toLowerCase()] = value
  }
  headers['access-control-allow-methods'] ??= [...(pipeline.source.methods ?? METHODS)].join(', ')
  const asked = request.headers['access-control-request-headers']
  if (asked && !headers['access-control-allow-headers']) headers['access-control-allow-headers'] = masker.text(String(asked))
  headers['access-control-max-age'] ??= '600'
  return { status: 204, headers, body: '' }
}

/** Maps Fastify's own errors (raised before our handler) to ours. */
export function toHookrelayError(error: FastifyError, request: FastifyRequest, bodyLimit: number): HookrelayError {
  if (error instanceof HookrelayError) return error
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return hookrelayError('HR_BODY_TOO_LARGE', [bodyLimit], { cause: error })
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return hookrelayError('HR_UNSUPPORTED_MEDIA_TYPE', [request.headers['content-type'] ?? '(none)'], { cause: error })
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) return hookrelayError('HR_BAD_REQUEST', [error.message], { cause: error })
  return hookrelayError('HR_INTERNAL', [], { cause: error })
}
