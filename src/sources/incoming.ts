/** A request that reached a pipeline: what is kept in the journal and what templates see. */
import type { KeptRequest } from '../journal/runs.js'
import type { Scope } from '../pipeline/template.js'
import { headerSecrets } from '../secrets/learn.js'
import type { Masked, Masker } from '../secrets/masker.js'
import { ownFields, parseBody, type ParsedBody } from './body.js'

export interface IncomingRequest {
  method: string
  /** The path with the URL key masked: the key never reaches the journal or a template. */
  path: string
  query: Record<string, unknown>
  /** Header names in lower case. */
  headers: Record<string, string>
  body: ParsedBody
  receivedAt: Date
  /** The request line as sent (key masked), for a request the HTTP parser refused. */
  line?: string
  /** For one event of a delivery that carried several: which it is (replay runs that one again). */
  delivery?: { id: string; part: number; of: number }
}

/** A request as the journal keeps it: `request` to replay, `shown` for every output. */
export interface Kept {
  request: Masked<KeptRequest>
  /** The kept body as the journal API, the page and the search show it; none when that is the kept body itself. */
  shown: Masked<string> | undefined
}

/**
 * The request as the journal keeps it, and the run's masker taught the request's secrets, within
 * the request's budget: credentials in headers (`Bearer X` and `X`), secret-named query and body
 * fields, and secret-named fields of `in.*` as the source read them (`fields`). Headers and query
 * are kept masked; the body is kept as sent so that replay can send it again, masked only with
 * what is known before it is read (the config's secrets, the request's credentials). Beside it,
 * `shown`: the body masked with all the run knows then, made once here, so that reading the run
 * back never learns anything again.
 */
export function keepRequest(req: IncomingRequest, mask: Masker, fields?: Record<string, unknown>): Kept {
  for (const secret of headerSecrets(req.headers)) mask.learnField(secret)
  mask.learnFields(req.query)
  const { text, raw } = req.body
  const body = text !== undefined ? { raw: text } : { raw: raw.toString('base64'), encoding: 'base64' as const }
  const line = req.line === undefined ? {} : { line: req.line }
  const delivery = req.delivery === undefined ? {} : { delivery: req.delivery }
  const request = mask.value({ method: req.method, path: req.path, query: req.query, headers: req.headers, ...body, ...line, ...delivery })
  mask.learnFields(req.body.value)
  if (fields !== undefined && fields !== req.body.value) mask.learnFields(fields)
  return { request, shown: shownBody(request, req.body.value, mask) }
}

/**
 * The kept body masked with all `mask` knows, as a body (`parsed`: what its parser made of it);
 * none when that changes nothing (or it is not text).
 */
export function shownBody(kept: Masked<KeptRequest>, parsed: unknown, mask: Masker): Masked<string> | undefined {
  if (kept.encoding !== undefined || kept.raw === '') return undefined
  const shown = mask.parsedBody(kept.raw, parsed, kept.headers['content-type'])
  return shown === kept.raw ? undefined : shown
}

/** Rebuilds an incoming request from a journal entry, for replay. */
export function restoreRequest(kept: KeptRequest, receivedAt: Date): IncomingRequest {
  const raw = Buffer.from(kept.raw, kept.encoding === 'base64' ? 'base64' : 'utf8')
  return {
    method: kept.method,
    path: kept.path,
    query: kept.query,
    headers: kept.headers,
    body: parseBody(raw, kept.headers['content-type']),
    receivedAt,
    ...(kept.delivery ? { delivery: kept.delivery } : {}),
  }
}

/**
 * `in.*`: the query string merged with the body's top-level fields (the body wins), in a new
 * object without prototype; `copy` forces a copy even when one side is empty (to modify it).
 */
export function inFields(req: IncomingRequest, copy = false): Record<string, unknown> {
  const body = req.body.fields
  const hasQuery = Object.keys(req.query).length > 0
  if (!copy && !hasQuery) return body
  const fields = ownFields(req.query)
  for (const key of Object.keys(body)) fields[key] = body[key]
  return fields
}

/** Everything a template of this run can read; `fields` is `in.*` as the source read it. */
export function runScope(req: IncomingRequest, fields: Record<string, unknown>, run: { id: string }, pipeline: { id: string; name: string }): Scope {
  return {
    in: fields,
    request: {
      method: req.method,
      path: req.path,
      headers: req.headers,
      query: req.query,
      body: req.body.value,
      raw: req.body.text ?? req.body.raw.toString('utf8'),
    },
    steps: Object.create(null),
    run,
    pipeline,
    now: req.receivedAt.toISOString(),
  }
}
