/**
 * GET /ui: the journal in a browser. Read-only, rendered on the server (Liquid, every value
 * escaped), no script, usable on a phone. Login with the journal token through a form; the
 * browser then holds a session cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS) that is
 * a random id, never the token, and ends after SESSION_HOURS or at logout. Wrong tokens count
 * against the same per-address limit as the API's. What it shows passes the same masking as
 * the API (journal/view.ts).
 */
import { randomBytes } from 'node:crypto'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Liquid } from 'liquidjs'
import { hookrelayError } from '../errors.js'
import { tokenMatches, type FailureLimiter } from '../journal/auth.js'
import type { Journal } from '../journal/journal.js'
import { readFilter } from '../journal/routes.js'
import { RUN_STATUSES, type RunSummary } from '../journal/runs.js'
import { findRuns, runView, type RunView } from '../journal/view.js'
import type { PipelineSet } from '../pipeline/pipeline-set.js'
import type { Masker } from '../secrets/masker.js'
import { chooseLanguage, WORDS, type Language, type Words } from './i18n.js'
import { STYLE, TEMPLATES } from './templates.js'
import { dayAfter, zonedDayStart } from './time.js'

export interface UiOptions {
  journal: Journal
  token: string | undefined
  masker: Masker
  pipelines: PipelineSet
  limiter: FailureLimiter
  timeZone: string
  /** The config file, for the replay command shown on a run's page. */
  configFile: string
}

const COOKIE = 'hookrelay_session'
const SESSION_HOURS = 12
const MAX_SESSIONS = 1000

/** Strict: no script, no outside resource, no framing, forms only to this server. */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}

/** Logged-in browsers: random ids and when they end. In memory: a restart logs everyone out. */
class Sessions {
  readonly #ends = new Map<string, number>()

  create(): string {
    const now = Date.now()
    for (const [id, ends] of this.#ends) if (ends <= now) this.#ends.delete(id)
    if (this.#ends.size >= MAX_SESSIONS) this.#ends.delete(this.#ends.keys().next().value!) // the oldest
    const id = randomBytes(32).toString('base64url')
    this.#ends.set(id, now + SESSION_HOURS * 3_600_000)
    return id
  }

  valid(id: string | undefined): boolean {
    const ends = id === undefined ? undefined : this.#ends.get(id)
    return ends !== undefined && ends > Date.now()
  }

  end(id: string | undefined): void {
    if (id !== undefined) this.#ends.delete(id)
  }
}

export async function uiRoutes(app: FastifyInstance, options: UiOptions): Promise<void> {
  const { journal, token, masker, timeZone } = options
  const engine = new Liquid({ templates: TEMPLATES, outputEscape: 'escape', strictFilters: true, ownPropertyOnly: true })
  engine.registerFilter('fill', (text: string, value: unknown) => fill(text, value))
  const parsed = Object.fromEntries(Object.entries(TEMPLATES).map(([name, text]) => [name, engine.parse(text)]))
  const sessions = new Sessions()
  await app.register(cookie)
  await app.register(formbody, { bodyLimit: 4096 })

  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS)
  })

  const words = (request: FastifyRequest) => {
    const lang = chooseLanguage(request.headers['accept-language'])
    return { lang, t: WORDS[lang] }
  }
  const page = (reply: FastifyReply, status: number, name: string, scope: Record<string, unknown>) =>
    reply.code(status).type('text/html; charset=utf-8').send(engine.renderSync(parsed[name]!, scope))
  const session = (request: FastifyRequest) => request.cookies[COOKIE]
  const loggedIn = (request: FastifyRequest) => sessions.valid(session(request))

  app.get('/ui/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLE))

  app.get<{ Querystring: Record<string, string | string[]> }>('/ui', async (request, reply) => {
    const { lang, t } = words(request)
    if (!token) return page(reply, 404, 'login', { lang, t, off: true, problem: t.page_off })
    if (!loggedIn(request)) return page(reply, 200, 'login', { lang, t, problem: session(request) ? t.session_over : undefined })
    return page(reply, ...listPage(request.query, lang, t))
  })

  app.post<{ Body: { token?: unknown } }>('/ui/login', async (request, reply) => {
    const { lang, t } = words(request)
    if (!token) return page(reply, 404, 'login', { lang, t, off: true, problem: t.page_off })
    const given = typeof request.body?.token === 'string' ? request.body.token.trim() : undefined
    // As the API: the right token always gets in; wrong ones are counted, and refused at the limit.
    if (!tokenMatches(given, token)) {
      const wait = options.limiter.blockedFor(request.ip)
      if (wait > 0) return page(reply.header('retry-after', String(wait)), 429, 'login', { lang, t, problem: fill(t.too_many, wait) })
      options.limiter.fail(request.ip)
      return page(reply, 401, 'login', { lang, t, problem: t.wrong_token })
    }
    sessions.end(session(request))
    reply.setCookie(COOKIE, sessions.create(), {
      path: '/ui',
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
      maxAge: SESSION_HOURS * 3600,
    })
    return reply.redirect('/ui', 303)
  })

  app.post('/ui/logout', async (request, reply) => {
    sessions.end(session(request))
    reply.clearCookie(COOKIE, { path: '/ui', httpOnly: true, sameSite: 'strict', secure: request.protocol === 'https' })
    return reply.redirect('/ui', 303)
  })

  app.get<{ Params: { id: string } }>('/ui/runs/:id', async (request, reply) => {
    const { lang, t } = words(request)
    if (!token || !loggedIn(request)) return reply.redirect('/ui', 303)
    const run = journal.get(request.params.id)
    const scope = { lang, t, loggedIn: true, timeZone }
    if (!run) return page(reply, 404, 'run', { ...scope, problem: fill(t.not_found, request.params.id) })
    return page(reply, 200, 'run', { ...scope, run: runModel(runView(run, masker, options.pipelines.get(run.pipeline)?.source.shape) as unknown as RunView, lang, t) })
  })

  /** The runs list: its status, template and scope. */
  function listPage(query: Record<string, string | string[]>, lang: Language, t: Words): [number, string, Record<string, unknown>] {
    const one = (key: string) => {
      const v = query[key]
      return (Array.isArray(v) ? v.at(-1) : v)?.trim() || undefined
    }
    const form = { pipeline: one('pipeline'), status: one('status'), from: one('from'), to: one('to'), q: one('q'), before: one('before') }
    const known = [...new Set([...options.pipelines.all.map((p) => p.id), ...journal.pipelines()])].sort()
    const base = {
      lang,
      t,
      loggedIn: true,
      timeZone,
      filter: form,
      pipelines: known,
      statuses: RUN_STATUSES.map((value) => ({ value, word: t[`status_${value}`] })),
      filtered: Object.values(form).some((v) => v !== undefined),
      runs: [],
    }
    const problem = (message: string): [number, string, Record<string, unknown>] => [400, 'list', { ...base, problem: message }]

    const range: Record<string, string> = {}
    for (const [key, field] of [['since', 'from'], ['until', 'to']] as const) {
      const day = form[field]
      if (day === undefined) continue
      const at = field === 'from' ? zonedDayStart(day, timeZone) : dayAfter(day, timeZone)
      if (at === undefined) return problem(fill(t.bad_date, day))
      range[key] = new Date(at).toISOString()
    }
    const filter = readFilter({ pipeline: form.pipeline, status: form.status, q: form.q, before: form.before, ...range })
    if ('error' in filter) return problem(filter.error.message)
    if (filter.pipeline !== undefined && !known.includes(filter.pipeline)) {
      return problem(hookrelayError('HR_UNKNOWN_PIPELINE', [filter.pipeline, known.join(', ') || 'none yet']).message)
    }
    const found = masker.value(findRuns(journal, masker, filter, (id) => options.pipelines.get(id)?.source.shape)) as unknown as { runs: RunSummary[]; next: string | null }
    const href = (changes: Record<string, string | undefined>) => {
      const params = new URLSearchParams()
      for (const [key, value] of Object.entries({ ...form, ...changes })) if (value !== undefined) params.set(key, value)
      const text = params.toString()
      return text ? `/ui?${text}` : '/ui'
    }
    return [
      200,
      'list',
      {
        ...base,
        runs: found.runs.map((run) => ({ ...run, href: runHref(run.id), time: formatTime(run.received_at, lang), word: t[`status_${run.status}`], duration: formatDuration(run.duration_ms, t) })),
        olderHref: found.next ? href({ before: found.next }) : undefined,
        newestHref: form.before ? href({ before: undefined }) : undefined,
      },
    ]
  }

  function formatTime(iso: string | null | undefined, lang: Language): string | undefined {
    if (!iso) return undefined
    const at = new Date(iso)
    if (Number.isNaN(at.getTime())) return iso
    return new Intl.DateTimeFormat(lang === 'ru' ? 'ru-RU' : 'en-GB', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(at)
  }

  /** What the run page shows: times in the zone, JSON pretty-printed, links between runs. */
  function runModel(run: RunView, lang: Language, t: Words) {
    const link = (id: string | null) => (id ? { id, href: runHref(id) } : undefined)
    const { request } = run
    const body = request.body !== null && request.body !== undefined && typeof request.body === 'object' ? pretty(request.body) : request.raw
    return {
      id: run.id,
      pipeline: run.pipeline,
      status: run.status,
      word: t[`status_${run.status}`],
      received: formatTime(run.received_at, lang),
      finished: formatTime(run.finished_at, lang),
      duration: formatDuration(run.duration_ms, t),
      error: run.error,
      replay_of: link(run.replay_of),
      replays: run.replays.map(link),
      duplicate_of: link(run.duplicate_of),
      duplicates: run.duplicates.map(link),
      warnings: run.warnings,
      request: {
        method: request.method,
        path: request.path,
        line: request.line,
        query: Object.keys(request.query ?? {}).length > 0 ? pretty(request.query) : undefined,
        headers: Object.entries(request.headers ?? {}).map(([name, value]) => ({ name, value })),
        body: body === '' ? undefined : body,
      },
      steps: run.steps.map((step) => ({
        ...step,
        word: t[`status_${step.status}`],
        duration: formatDuration(step.duration_ms, t),
        request: shown(step.request),
        response: shown(step.response),
        output: step.output === undefined ? undefined : shown(step.output),
      })),
      answer: run.response ? pretty(withParsedBody(run.response)) : undefined,
      replayCommand: `hookrelay replay ${run.id} --config ${options.configFile}`,
    }
  }
}

/** The message with `value` in place of its %s (taken as text: no `$&` patterns). */
function fill(text: string, value: unknown): string {
  return text.replace('%s', () => String(value))
}

function runHref(id: string): string {
  return `/ui/runs/${encodeURIComponent(id)}`
}

function formatDuration(ms: number | null | undefined, t: Words): string | undefined {
  if (ms === null || ms === undefined) return undefined
  return ms < 1000 ? `${ms} ${t.ms}` : `${(ms / 1000).toFixed(1)} ${t.s}`
}

/** A step's request or response: its `body`, when it is JSON text, shown as JSON. */
function shown(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined
  return pretty(withParsedBody(value))
}

function withParsedBody(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || !('body' in value) || typeof value.body !== 'string') return value
  try {
    return { ...value, body: JSON.parse(value.body) as unknown }
  } catch {
    return value
  }
}

function pretty(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2)
}
