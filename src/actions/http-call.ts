/**
 * What every calling action shares: the `timeout`, `retries` and `success` keys, learning the
 * secrets it sends, and keeping the request and answer for the journal. http.request and the
 * integrations (Bizon365, DiMaker, GetCourse) all go through callUpstream().
 */
import { Type } from '@sinclair/typebox'
import { parseDuration } from '../config/duration.js'
import { Duration } from '../config/schema-kit.js'
import type { HttpClient, HttpResponse } from '../http/client.js'
import { UpstreamError } from '../http/client.js'
import { hasHeader } from '../http/headers.js'
import { parseStatusPattern, type StatusPattern } from '../http/status-pattern.js'
import { headerSecrets, learnUserinfo } from '../secrets/learn.js'
import { safeDecode } from '../secrets/urls.js'
import { visitSecretFields, type Masker } from '../secrets/masker.js'
import type { BuildContext, StepContext, StepPart } from './types.js'

export const DEFAULT_TIMEOUT_MS = 10_000

/** The keys that tune a call; each calling action spreads these into its schema. */
export const callProperties = {
  timeout: Type.Optional(Duration),
  retries: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 10, description: 'Extra tries on a network error, 429 or 5xx, with backoff; default 0.' }),
  ),
}

export interface CallOptions {
  timeoutMs: number
  retries: number
  success: StatusPattern
}

export interface OutgoingRequest {
  method: string
  url: URL
  headers: Record<string, string>
  body?: string | undefined
  /** Extra fields for the journal, e.g. a base64 parameter shown decoded. */
  note?: Record<string, unknown>
  /**
   * For a body that encodes what it carries (GetCourse's base64 `params`): the body the journal
   * keeps, encoded anew from values the run's masker has masked (masking the encoded text could
   * not find a secret inside it).
   */
  encodedBody?: (mask: Masker) => string
  /** The body's fields (JSON or form), whose secret-named values are learned (within the 'sent' budget). */
  fields?: unknown
  /** The origin came from data: apply the SSRF rule. */
  guard?: boolean
}

export function compileCallOptions(
  params: { timeout?: string | number | undefined; retries?: number | undefined; success?: string | undefined },
  build: BuildContext,
): CallOptions {
  let success = parseStatusPattern('2**')
  if (params.success !== undefined) {
    try {
      success = parseStatusPattern(params.success)
    } catch (err) {
      build.problem(['success'], (err as Error).message)
    }
  }
  const timeoutMs = params.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(params.timeout)
  if (timeoutMs === undefined || timeoutMs <= 0) build.problem(['timeout'], `'${String(params.timeout)}' is not a positive duration`)
  return { timeoutMs: timeoutMs || DEFAULT_TIMEOUT_MS, retries: params.retries ?? 0, success }
}

/** Sends `req`, keeping it and the answer (or the failure's answer) on the step. */
export async function callUpstream(http: HttpClient, given: OutgoingRequest, options: CallOptions, ctx: StepContext): Promise<HttpResponse> {
  // The step's credentials first, in a budget of their own (the URL's userinfo becomes one); then
  // what a caller can shape in number: other userinfo in the URL, query parameters, body fields.
  const req = userinfoAsBasicAuth(given)
  for (const secret of headerSecrets(req.headers)) ctx.mask.learn(secret, 'credentials')
  learnUserinfo(ctx.mask, given.url.href, 'sent')
  visitSecretFields(queryFields(req.url), (secret) => ctx.mask.learn(secret, 'sent'))
  if (req.fields !== undefined) ctx.mask.learnFields(req.fields, 'sent')
  ctx.record({ request: keptRequest(req) })
  // An answer read up to the client's limit may end in the first half of a secret: that half goes.
  const trimCut = (body: string) => ctx.mask.trimCutSecret(body)
  try {
    const { response, attempts } = await http.send({ method: req.method, url: req.url, headers: req.headers, body: req.body, guard: req.guard, trimCut, ...options }, ctx.signal)
    ctx.record({ response: keptResponse(response, attempts) })
    return response
  } catch (err) {
    if (err instanceof UpstreamError) ctx.record({ response: err.response ? keptResponse(err.response, err.attempts) : { attempts: err.attempts } })
    throw err
  }
}

/** The outputs every HTTP-based step offers: status, headers, body and json (parsed when first read). */
export function responseOutput(response: HttpResponse): Record<string, unknown> {
  let json: unknown
  let parsed = false
  return {
    status: response.status,
    headers: response.headers,
    body: response.body,
    get json() {
      if (!parsed) {
        json = parseJsonBody(response.body)
        parsed = true
      }
      return json
    },
  }
}

export function parseJsonBody(body: string): unknown {
  const start = body.trimStart()[0]
  if (start !== '{' && start !== '[' && start !== '"') return null
  try {
    return JSON.parse(body)
  } catch {
    return null
  }
}

/** The request whole; the runner masks it and then cuts its body for the journal. */
function keptRequest(req: OutgoingRequest): StepPart {
  const part: StepPart = { method: req.method, url: req.url.href, headers: req.headers, body: req.body ?? '', truncated: false, ...req.note }
  if (req.encodedBody) part.encodeBody = req.encodedBody
  return part
}

function keptResponse(res: HttpResponse, attempts: number): StepPart {
  return { status: res.status, headers: res.headers, body: res.body, truncated: res.truncated, attempts }
}

/**
 * `https://user:password@host/` sends Basic auth, as curl does (undici would silently drop the
 * userinfo); an Authorization header written in the config wins.
 */
function userinfoAsBasicAuth(req: OutgoingRequest): OutgoingRequest {
  const { url } = req
  if (url.username === '' && url.password === '') return req
  const bare = new URL(url)
  bare.username = ''
  bare.password = ''
  if (hasHeader(req.headers, 'authorization')) return { ...req, url: bare }
  const credentials = Buffer.from(`${safeDecode(url.username)}:${safeDecode(url.password)}`).toString('base64')
  return { ...req, url: bare, headers: { ...req.headers, authorization: `Basic ${credentials}` } }
}

/** The query parameters by name (a repeated one as a list), to learn the secret-named ones. */
function queryFields(url: URL): Record<string, string[]> {
  const fields: Record<string, string[]> = Object.create(null)
  for (const [name, value] of url.searchParams) (fields[name] ??= []).push(value)
  return fields
}
