/** The read-only journal API: GET /journal (filters, cursor) and GET /journal/RUN_ID, behind a bearer token. */
import { hash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { hookrelayError, type HookrelayError } from '../errors.js'
import type { Masker } from '../secrets/masker.js'
import { parseBody } from '../sources/body.js'
import type { Journal } from './journal.js'
import { RUN_STATUSES, type KeptRequest, type RunDetail, type RunStatus } from './runs.js'

export interface JournalRoutesOptions {
  journal: Journal
  /** Without a token the API is off. */
  token: string | undefined
  /** The config's secrets: every answer passes it (the kept body's own secret fields are learned per run). */
  masker: Masker
}

const DEFAULT_LIMIT = 50
const MAX_LIMIT = 500
const FILTERS = ['pipeline', 'status', 'limit', 'before']

/** Failed token attempts allowed per client address per window, before 429. */
export const AUTH_FAILURES_ALLOWED = 10
const AUTH_WINDOW_MS = 60_000
const TRACKED_CLIENTS = 10_000

/** Counts failed attempts per client address in fixed windows; bounded in memory. */
class FailureLimiter {
  readonly #failures = new Map<string, { count: number; resetAt: number }>()

  /** Seconds until `client` may try again, or 0. */
  blockedFor(client: string, now = Date.now()): number {
    const entry = this.#failures.get(client)
    if (!entry || entry.resetAt <= now || entry.count < AUTH_FAILURES_ALLOWED) return 0
    return Math.ceil((entry.resetAt - now) / 1000)
  }

  fail(client: string, now = Date.now()): void {
    const entry = this.#failures.get(client)
    if (entry && entry.resetAt > now) {
      entry.count++
      return
    }
    if (this.#failures.size >= TRACKED_CLIENTS) {
      for (const [key, e] of this.#failures) if (e.resetAt <= now) this.#failures.delete(key)
      if (this.#failures.size >= TRACKED_CLIENTS) this.#failures.clear()
    }
    this.#failures.set(client, { count: 1, resetAt: now + AUTH_WINDOW_MS })
  }
}

export async function journalRoutes(app: FastifyInstance, { journal, token, masker }: JournalRoutesOptions): Promise<void> {
  const fail = (reply: FastifyReply, err: HookrelayError) => reply.code(err.status).send(masker.value({ error: err.message, code: err.code }))

  if (!token) {
    app.get('/journal', async (_req, reply) => fail(reply, hookrelayError('HR_JOURNAL_DISABLED')))
    app.get('/journal/*', async (_req, reply) => fail(reply, hookrelayError('HR_JOURNAL_DISABLED')))
    return
  }

  const expected = digest(token)
  const limiter = new FailureLimiter()
  // The right token always gets in: the limit counts and stops wrong ones only, so a caller
  // guessing from the operator's address (or from behind the same proxy) cannot lock the
  // operator out. Guessing gains nothing from that: a token is long enough that no number of
  // tries finds it (`check` warns about short ones), and the limit keeps the noise down.
  app.addHook('onRequest', async (request, reply) => {
    const given = /^Bearer +(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim()
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return undefined
    const wait = limiter.blockedFor(request.ip)
    if (wait > 0) {
      reply.header('retry-after', String(wait))
      return fail(reply, hookrelayError('HR_TOO_MANY_ATTEMPTS', [wait]))
    }
    limiter.fail(request.ip)
    reply.header('www-authenticate', 'Bearer realm="hookrelay journal"')
    return fail(reply, hookrelayError('HR_UNAUTHORIZED'))
  })

  app.get<{ Querystring: Record<string, string | string[]> }>('/journal', async (request, reply) => {
    const filter = readFilter(request.query)
    if ('error' in filter) return fail(reply, filter.error)
    const rows = journal.list({ ...filter, limit: filter.limit + 1 })
    const runs = rows.slice(0, filter.limit)
    return masker.value({ runs, next: rows.length > filter.limit ? (runs.at(-1)?.id ?? null) : null })
  })

  app.get<{ Params: { id: string } }>('/journal/:id', async (request, reply) => {
    const run = journal.get(request.params.id)
    if (!run) return fail(reply, hookrelayError('HR_RUN_NOT_FOUND', [request.params.id]))
    return runView(run, masker.forRun())
  })
}

function digest(text: string): Buffer {
  return hash('sha256', text, 'buffer')
}

type Filter = { pipeline?: string; status?: RunStatus; before?: string; limit: number }

function readFilter(query: Record<string, string | string[]>): Filter | { error: HookrelayError } {
  const bad = (message: string) => ({ error: hookrelayError('HR_BAD_FILTER', [message]) })
  for (const key of Object.keys(query)) if (!FILTERS.includes(key)) return bad(`unknown filter '${key}' (allowed: ${FILTERS.join(', ')})`)
  const one = (key: string) => {
    const v = query[key]
    return Array.isArray(v) ? v.at(-1) : v
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
  return filter
}

/**
 * The run as the API shows it, masked: the kept body is re-read (JSON shows as JSON), and it is
 * kept as sent, so its own secret-named fields are learned and hidden here.
 */
function runView(run: RunDetail, mask: Masker) {
  const { raw, encoding, ...request } = run.request
  const contentType = run.request.headers['content-type']
  const body = keptBody(run.request)
  mask.learnFields(body)
  // What the run learned while it ran (a body field it sent on as a credential) is in `shown`.
  const text = run.shown ?? (encoding ? raw : mask.body(raw, contentType))
  const shownRequest = { ...request, body: run.shown === null ? body : keptBody({ ...run.request, raw: run.shown }), raw: text, ...(encoding ? { encoding } : {}) }
  const { shown: _shown, ...rest } = run
  return mask.value({ ...rest, request: shownRequest })
}

function keptBody(kept: KeptRequest): unknown {
  const raw = Buffer.from(kept.raw, kept.encoding === 'base64' ? 'base64' : 'utf8')
  const body = parseBody(raw, kept.headers['content-type'])
  return body.error ? null : body.value
}
