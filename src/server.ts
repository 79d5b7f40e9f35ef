/** buildServer: the Fastify app with its routes, not listening. Everything it uses is passed in. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import { clientErrorHandler, MAX_HEADER_BYTES, ParserRefusals } from './http/client-errors.js'
import type { Logger } from 'pino'
import type { Settings } from './config/load.js'
import { hookrelayError } from './errors.js'
import type { Journal } from './journal/journal.js'
import { FailureLimiter } from './journal/auth.js'
import { journalRoutes } from './journal/routes.js'
import type { Metrics } from './metrics.js'
import { uiRoutes } from './ui/routes.js'
import type { Executor } from './pipeline/executor.js'
import type { PipelineSet } from './pipeline/pipeline-set.js'
import type { Masker } from './secrets/masker.js'
import { errorAnswer, maskAnswer, sendAnswer, type Answer } from './sources/answer.js'
import { refusedRequestKeeper } from './sources/refused.js'
import { toHookrelayError, webhookRoutes } from './sources/webhook.js'

/** Shared with whoever stops the server: once `closing`, every new request gets 503. */
export interface Lifecycle {
  closing: boolean
}

export interface ServerDeps {
  settings: Settings
  /** What is served; a reload replaces its contents. */
  pipelines: PipelineSet
  journal: Journal
  executor: Executor
  log: Logger
  /** The config's secrets: every answer that belongs to no run passes it. */
  masker: Masker
  lifecycle?: Lifecycle
  /** The config file, as the journal page's replay command names it. */
  configFile: string
  metrics: Metrics
}

/** Lines about requests that found no pipeline: at most one a minute for each path. */
const MISS_LOG_INTERVAL_MS = 60_000
const MISS_LOG_PATHS = 1000

/** Counters an operator can read from /healthz. */
export interface ServerStats {
  notFound: number
}

/** Server limits, set explicitly rather than left to defaults (see docs/security.md). */
export const SERVER_LIMITS = {
  /** Headers must arrive within this (slowloris). */
  headersTimeoutMs: 10_000,
  /** An idle socket is closed after this; longer than any run is allowed to take. */
  connectionTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  /** How often Node checks request and headers deadlines. */
  checkIntervalMs: 1_000,
  maxParamLength: 200,
} as const

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { settings, journal, executor, masker } = deps
  // An admin who pasted a wrong URL into GetCourse sees why nothing arrives, without a scanner filling the log.
  const missLogged = new Map<string, number>()
  const logMiss = (pipeline: string, known: boolean) => {
    const path = known ? `/hooks/${pipeline}/***` : `/hooks/${pipeline}`
    const now = Date.now()
    if ((missLogged.get(path) ?? -Infinity) > now - MISS_LOG_INTERVAL_MS) return
    if (missLogged.size >= MISS_LOG_PATHS) missLogged.clear()
    missLogged.set(path, now)
    if (known) {
      deps.log.info({ path }, `a request for pipeline '${pipeline}' came with a wrong key (404): compare the URL the sender calls with the one \`hookrelay urls\` prints (this line comes at most once a minute)`)
    } else {
      const ids = deps.pipelines.all.map((p) => p.id).join(', ') || 'none'
      deps.log.info({ path }, `a request came for pipeline '${pipeline}', which the config does not have (404; it has: ${ids}): check the URL the sender calls (this line comes at most once a minute)`)
    }
  }
  const stats: ServerStats = { notFound: 0 }
  const refusals = new ParserRefusals()
  const answer = (reply: FastifyReply, plain: Answer) => sendAnswer(reply, maskAnswer(masker, plain))
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: settings.bodyLimit,
    requestTimeout: settings.requestTimeoutMs,
    connectionTimeout: SERVER_LIMITS.connectionTimeoutMs,
    keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
    routerOptions: { maxParamLength: SERVER_LIMITS.maxParamLength },
    trustProxy: settings.trustProxy.length > 0 ? settings.trustProxy : false,
    return503OnClosing: true,
    // One line per request, not Fastify's two: runs log "run finished", the rest is logged below.
    logController: new LogController({ disableRequestLogging: true }),
    // Passed to http.createServer: strict parsing, bounded headers, deadlines checked every second.
    http: {
      insecureHTTPParser: false,
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: Math.min(SERVER_LIMITS.headersTimeoutMs, settings.requestTimeoutMs),
      connectionsCheckingInterval: SERVER_LIMITS.checkIntervalMs,
    },
    clientErrorHandler: clientErrorHandler({
      requestTimeoutMs: settings.requestTimeoutMs,
      log: deps.log,
      masker,
      refusals,
      keep: refusedRequestKeeper(deps.pipelines, executor),
    }),
    frameworkErrors: (error: FastifyError, _request: unknown, reply: FastifyReply) => {
      // A parameter too long for the router (e.g. a 5,000-character key) is just an unknown URL.
      const err = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? hookrelayError('HR_NOT_FOUND') : hookrelayError('HR_BAD_REQUEST', ['malformed URL'])
      if (err.code === 'HR_NOT_FOUND') stats.notFound++
      return answer(reply, errorAnswer(err))
    },
  } as FastifyServerOptions)

  // Callback-style hooks: they run on every request, and an async hook costs a promise each time.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.url.startsWith('/hooks/')) deps.metrics.answered(reply.statusCode)
    if (!request.url.startsWith('/hooks/') || reply.statusCode === 404) {
      const line = { req: request, status: reply.statusCode, durationMs: Math.round(reply.elapsedTime) }
      if (reply.statusCode >= 500) request.log.error(line, 'request failed')
      else request.log.debug(line, 'request')
    } // a run's own "run finished" line says the rest
    done()
  })

  const lifecycle = deps.lifecycle ?? { closing: false }
  app.addHook('onRequest', (_request, reply, done) => {
    if (!lifecycle.closing) return done()
    const closing = errorAnswer(hookrelayError('HR_SHUTTING_DOWN'))
    answer(reply, { ...closing, headers: { ...closing.headers, 'retry-after': '5', connection: 'close' } })
  })

  app.setNotFoundHandler(async (_request, reply) => {
    stats.notFound++
    return answer(reply, errorAnswer(hookrelayError('HR_NOT_FOUND')))
  })
  app.setErrorHandler(async (error, request, reply) => {
    const err = toHookrelayError(error as FastifyError, request, settings.bodyLimit)
    if (err.status >= 500) request.log.error({ err: error }, 'request failed')
    return answer(reply, errorAnswer(err))
  })

  app.get('/healthz', async (_request, reply) => {
    try {
      await journal.checkWritable()
      return { status: 'ok', not_found: stats.notFound, parser_refused: refusals.byReason, targets_encoded: refusals.targetsEncoded }
    } catch (err) {
      deps.log.error({ err }, 'health check: journal not writable')
      return reply.code(503).send({ status: 'unavailable', error: 'the journal is not writable' })
    }
  })

  const limiter = new FailureLimiter()
  await app.register(journalRoutes, { journal, token: settings.journalToken, masker, pipelines: deps.pipelines, limiter, metrics: deps.metrics })
  await app.register(uiRoutes, { journal, token: settings.journalToken, masker, pipelines: deps.pipelines, limiter, timeZone: settings.timeZone, configFile: deps.configFile })
  await app.register(webhookRoutes, {
    pipelines: deps.pipelines,
    executor,
    bodyLimit: settings.bodyLimit,
    onNotFound: ({ pipeline, known }) => {
      stats.notFound++
      deps.metrics.missed(known ? 'wrong_key' : 'unknown_pipeline')
      logMiss(pipeline, known)
    },
    masker,
  })
  return app
}
