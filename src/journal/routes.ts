/**
 * The read-only journal API: GET /journal (filters, text search, cursor) and GET /journal/RUN_ID,
 * behind a bearer token. `?pretty` indents the JSON for reading in a terminal.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { hookrelayError, type HookrelayError } from '../errors.js'
import type { PipelineSet } from '../pipeline/pipeline-set.js'
import type { Metrics } from '../metrics.js'
import type { Masker } from '../secrets/masker.js'
import { tokenMatches, type FailureLimiter } from './auth.js'
import type { Journal } from './journal.js'
import { uuidv7Floor } from './retention.js'
import { RUN_STATUSES, type RunFilter, type RunStatus } from './runs.js'
import { findRuns, MAX_SEARCH_CHARS, MIN_SEARCH_CHARS, runView } from './view.js'

export interface JournalRoutesOptions {
  journal: Journal
  /** Without a token the API is off. */
  token: string | undefined
  /** The config's secrets: every answer passes it (a run's own were applied when it was kept). */
  masker: Masker
  /** The pipelines served: a filter naming one that is neither here nor in the journal is a 404. */
  pipelines: PipelineSet
  limiter: FailureLimiter
  /** GET /metrics, behind the same token. */
  metrics: Metrics
}

const DEFAULT_LIMIT = 50
const MAX_LIMIT = 500
const FILTERS = ['pipeline', 'status', 'limit', 'before', 'q', 'since', 'until', 'pretty']

export async function journalRoutes(app: FastifyInstance, { journal, token, masker, pipelines, limiter, metrics }: JournalRoutesOptions): Promise<void> {
  const fail = (reply: FastifyReply, err: HookrelayError) => reply.code(err.status).send(masker.value({ error: err.message, code: err.code }))

  if (!token) {
    app.get('/journal', async (_req, reply) => fail(reply, hookrelayError('HR_JOURNAL_DISABLED')))
    app.get('/journal/*', async (_req, reply) => fail(reply, hookrelayError('HR_JOURNAL_DISABLED')))
    app.get('/metrics', async (_req, reply) => fail(reply, hookrelayError('HR_JOURNAL_DISABLED')))
    return
  }

  // The right token always gets in: the limit counts and stops wrong ones only, so a caller
  // guessing from the operator's address (or from behind the same proxy) cannot lock the
  // operator out. Guessing gains nothing from that: a token is long enough that no number of
  // tries finds it (`check` warns about short ones), and the limit keeps the noise down.
  app.addHook('onRequest', async (request, reply) => {
    const given = /^Bearer +(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim()
    if (tokenMatches(given, token)) return undefined
    const wait = limiter.blockedFor(request.ip)
    if (wait > 0) {
      reply.header('retry-after', String(wait))
      return fail(reply, hookrelayError('HR_TOO_MANY_ATTEMPTS', [wait]))
    }
    limiter.fail(request.ip)
    reply.header('www-authenticate', 'Bearer realm="hookrelay journal"')
    return fail(reply, hookrelayError('HR_UNAUTHORIZED'))
  })

  /** The answer, indented when `?pretty` was asked for. */
  const send = (reply: FastifyReply, query: Record<string, unknown>, value: unknown) =>
    'pretty' in query ? reply.type('application/json; charset=utf-8').send(`${JSON.stringify(value, null, 2)}\n`) : value

  app.get<{ Querystring: Record<string, string | string[]> }>('/journal', async (request, reply) => {
    const filter = readFilter(request.query)
    if ('error' in filter) return fail(reply, filter.error)
    if (filter.pipeline !== undefined && !pipelines.get(filter.pipeline) && !journal.hasPipeline(filter.pipeline)) {
      const known = [...new Set([...pipelines.all.map((p) => p.id), ...journal.pipelines()])].sort()
      return fail(reply, hookrelayError('HR_UNKNOWN_PIPELINE', [filter.pipeline, known.length > 0 ? known.join(', ') : 'none yet']))
    }
    return send(reply, request.query, masker.value(findRuns(journal, masker, filter, (id) => pipelines.get(id)?.source.shape)))
  })

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()))

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/journal/:id', async (request, reply) => {
    const run = journal.get(request.params.id)
    if (!run) return fail(reply, hookrelayError('HR_RUN_NOT_FOUND', [request.params.id]))
    return send(reply, request.query, runView(run, masker, pipelines.get(run.pipeline)?.source.shape))
  })
}

export type Filter = RunFilter & { q?: string }

/** The list's filters from a query string (the API's, and the page's form). */
export function readFilter(query: Record<string, string | string[] | undefined>, allowed = FILTERS): Filter | { error: HookrelayError } {
  const bad = (message: string) => ({ error: hookrelayError('HR_BAD_FILTER', [message]) })
  for (const key of Object.keys(query)) if (!allowed.includes(key)) return bad(`unknown filter '${key}' (allowed: ${allowed.join(', ')})`)
  const one = (key: string) => {
    const v = query[key]
    const last = Array.isArray(v) ? v.at(-1) : v
    return last === '' ? undefined : last // an empty form field is no filter
  }
  const filter: Filter = { limit: DEFAULT_LIMIT }
  const limit = one('limit')
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) return bad(`limit must be a whole number from 1 to ${MAX_LIMIT}, got '${limit}'`)
    filter.limit = Number(limit)
  }
  const status = one('status')
  if (status !== undefined) {
    if (!(RUN_STATUSES as readonly string[]).includes(status)) return bad(`status '${status}' is not one of ${RUN_STATUSES.join(', ')}`)
    filter.status = status as RunStatus
  }
  const pipeline = one('pipeline')
  if (pipeline !== undefined) filter.pipeline = pipeline
  const before = one('before')
  if (before !== undefined) filter.before = before
  const q = one('q')?.trim()
  if (q) {
    const length = [...q].length
    if (length < MIN_SEARCH_CHARS || length > MAX_SEARCH_CHARS) return bad(`q must be ${MIN_SEARCH_CHARS} to ${MAX_SEARCH_CHARS} characters (an email, a phone, an order number or a part of one), got ${length}`)
    if (/[\u0000-\u001f\u007f]/.test(q)) return bad('q must not hold control characters (a line break, a tab, a NUL ...): search for one line of text')
    filter.q = q
  }
  for (const key of ['since', 'until'] as const) {
    const value = one(key)
    if (value === undefined) continue
    const at = isoTime(value)
    if (at === undefined) return bad(`${key} must be an ISO 8601 time such as 2026-12-01T09:00:00Z or 2026-12-01T12:00:00+03:00 (or a date, 2026-12-01, for its start in UTC), got '${value}'`)
    filter[key] = uuidv7Floor(at)
  }
  return filter
}

/** Milliseconds of an ISO 8601 date or date-time (with a zone, or UTC), or undefined. */
function isoTime(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined
  const ms = Date.parse(/T.*(Z|[+-]\d{2}:?\d{2})$/.test(text) || !text.includes('T') ? text : `${text}Z`)
  return Number.isNaN(ms) ? undefined : ms
}
