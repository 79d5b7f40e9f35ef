/**
 * `facebook.leads`: Facebook Lead Ads through the app's Webhooks product. Meta checks the URL
 * with a GET (hub.verify_token, hub.challenge), then POSTs `leadgen` changes, batched, signed
 * with the app secret over the raw bytes, carrying ids only; each lead is read from the Graph
 * API with the Page token, as the run's first step. Facts and what is not verified:
 * ../shared/apis/LEAD-SOURCES.md, section 1.
 */
import { createHmac } from 'node:crypto'
import type { BuildContext } from '../actions/types.js'
import { callService, compileServiceOptions, serviceUrl, type Reading, type Service } from '../actions/service-call.js'
import type { WebhookSourceConfig } from '../config/schema.js'
import { hookrelayError } from '../errors.js'
import { UpstreamError, type HttpClient } from '../http/client.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { sameSecret } from '../secrets/compare.js'
import type { Masker } from '../secrets/masker.js'
import type { IncomingRequest } from './incoming.js'
import type { DeliveryPart, Preset, Screening } from './preset.js'
import type { CallOptions } from '../actions/http-call.js'
import type { StepContext, StepOutput } from '../actions/types.js'

type FacebookConfig = Extract<WebhookSourceConfig, { type: 'facebook.leads' }>

export const DEFAULT_GRAPH_URL = 'https://graph.facebook.com'
export const DEFAULT_API_VERSION = 'v25.0'
/** The lead's fields, asked for by name (a bare GET gives only some of them). */
const LEAD_FIELDS = 'id,created_time,ad_id,ad_name,adset_id,adset_name,campaign_id,campaign_name,form_id,is_organic,platform,field_data'
/** How long a form's or a page's name is remembered. */
const NAME_TTL_MS = 60 * 60_000
const NAME_CACHE_SIZE = 1000

export function facebookPreset(config: FacebookConfig, build: BuildContext): Preset {
  const graph = new Graph(config, build.http, compileServiceOptions({ timeout: config.timeout, retries: config.retries ?? 2 }, build))
  return {
    methods: ['GET', 'POST'],
    respond: 'on_receipt',
    response: { status: 200, body: '' },
    dedupe: '{{ in.id }}', // Facebook retries for up to 36 hours
    screen: (req) => (req.method === 'GET' ? verification(req, config.verify_token) : signature(req, config.app_secret)),
    split: readChanges,
    firstSteps: [{ id: 'facebook', type: 'facebook.lead', continueOnError: false, action: { run: (ctx) => graph.readLead(ctx) } }],
    // The lead's answers are `{ name, values }`: a field the form calls "password" is a secret.
    shape: { pairs: [{ name: 'name', value: 'values' }] },
  }
}

/** The GET with which Meta checks the URL: the challenge echoed when the verify token matches. */
function verification(req: IncomingRequest, verifyToken: string): Screening {
  const one = (name: string) => {
    const value = req.query[name]
    return typeof value === 'string' ? value : undefined
  }
  if (one('hub.mode') !== 'subscribe' || !sameSecret(one('hub.verify_token'), verifyToken)) return { refuse: hookrelayError('HR_WRONG_VERIFY_TOKEN') }
  return { handshake: { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: one('hub.challenge') ?? '' }, note: 'Facebook verification request: answered the challenge' }
}

/** X-Hub-Signature-256: HMAC-SHA256 of the exact bytes received, with the app secret; compared in constant time. */
function signature(req: IncomingRequest, appSecret: string): Screening | undefined {
  const given = req.headers['x-hub-signature-256']
  const expected = `sha256=${createHmac('sha256', appSecret).update(req.body.raw).digest('hex')}`
  return sameSecret(typeof given === 'string' ? given.trim().toLowerCase() : undefined, expected) ? undefined : { refuse: hookrelayError('HR_BAD_SIGNATURE') }
}

/**
 * One part per `leadgen` change of every entry (Meta batches up to 1,000). Ids are read as
 * text from the raw body: a 17-digit id read as a JavaScript number would lose its last digits.
 */
export function readChanges(req: IncomingRequest): DeliveryPart[] {
  let body: unknown
  try {
    body = JSON.parse(quoteLongIntegers(req.body.text ?? ''))
  } catch {
    return []
  }
  const entries = (body as { entry?: unknown })?.entry
  const parts: DeliveryPart[] = []
  for (const entry of Array.isArray(entries) ? entries : []) {
    const { id: entryId, time, changes } = (entry ?? {}) as { id?: unknown; time?: unknown; changes?: unknown }
    for (const change of Array.isArray(changes) ? changes : []) {
      const { field, value } = (change ?? {}) as { field?: unknown; value?: Record<string, unknown> }
      if (field !== 'leadgen') continue
      const body = JSON.stringify({ object: 'page', entry: [{ id: entryId, time, changes: [change] }] })
      const v = value ?? {}
      const fields: Record<string, unknown> = Object.create(null)
      for (const key of ['form_id', 'ad_id', 'adgroup_id', 'created_time']) if (v[key] !== undefined && v[key] !== null) fields[key] = String(v[key])
      fields['page_id'] = String(v['page_id'] ?? entryId ?? '')
      const leadgenId = v['leadgen_id']
      if (typeof leadgenId !== 'string' && typeof leadgenId !== 'number') {
        parts.push({ fields, warnings: [], error: hookrelayError('HR_BAD_CHANGE', ['it has no leadgen_id']), body })
        continue
      }
      fields['id'] = String(leadgenId)
      fields['leadgen_id'] = String(leadgenId)
      parts.push({ fields, warnings: [], body })
    }
  }
  return parts
}

/** Puts integers of 16 digits and more outside strings into quotes, so that JSON.parse keeps every digit. */
export function quoteLongIntegers(text: string): string {
  let out = ''
  let copied = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92 /* \ */) i++
    } else if (c >= 48 && c <= 57 && !/[\d.eE+-]/.test(text[i - 1] ?? '')) {
      let end = i
      while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++
      if (end - i >= 16 && !/[.eE]/.test(text[end] ?? '')) {
        out += `${text.slice(copied, i)}"${text.slice(i, end)}"`
        copied = end
      }
      i = end - 1
    }
  }
  return out + text.slice(copied)
}

/** The Graph API, read with the Page token; form and page names are remembered for an hour. */
class Graph {
  readonly #config: FacebookConfig
  readonly #http: HttpClient
  readonly #options: CallOptions
  /** A name being read or read: runs of one batch that want the same form wait for one read. */
  readonly #names = new Map<string, { name: Promise<string>; until: number }>()

  constructor(config: FacebookConfig, http: HttpClient, options: CallOptions) {
    this.#config = config
    this.#http = http
    this.#options = options
  }

  /**
   * The run's first step: the lead, then its form's and its page's names (remembered for an
   * hour; a name that cannot be read stays empty, with a warning: the lead itself is what
   * matters). `in.*` gets the lead's fields and each of its answers (values joined by ", ").
   */
  async readLead(ctx: StepContext): Promise<StepOutput> {
    const fields = ctx.scope['in'] as Record<string, unknown>
    ctx.mask.learn(this.#config.page_token)
    const lead = await this.#get(String(fields['id']), LEAD_FIELDS, ctx)
    for (const key of ['id', 'created_time', 'ad_id', 'ad_name', 'adset_id', 'adset_name', 'campaign_id', 'campaign_name', 'form_id']) {
      if (lead[key] !== undefined && lead[key] !== null) fields[key] = String(lead[key])
    }
    const warnings: string[] = []
    const formName = await this.#nameOrNothing('form', fields['form_id'], ctx, warnings)
    const pageName = await this.#nameOrNothing('page', fields['page_id'], ctx, warnings)
    fields['form_name'] = formName ?? ''
    fields['page_name'] = pageName ?? ''
    const answers = Array.isArray(lead['field_data']) ? (lead['field_data'] as Array<{ name?: unknown; values?: unknown }>) : []
    for (const { name, values } of answers) {
      if (typeof name !== 'string' || name === '' || name in fields) continue
      fields[name] = (Array.isArray(values) ? values : [values]).map((v) => String(v ?? '')).join(', ')
    }
    const output = { lead, form_name: formName ?? null, page_name: pageName ?? null, ...(warnings.length > 0 ? { warnings } : {}) }
    ctx.record({ output })
    return output
  }

  async #nameOrNothing(what: string, id: unknown, ctx: StepContext, warnings: string[]): Promise<string | undefined> {
    if (typeof id !== 'string' || id === '') return undefined
    try {
      return await this.#name(id, ctx)
    } catch (err) {
      warnings.push(`the ${what}'s name could not be read: ${ctx.mask.message(err)}`)
      return undefined
    }
  }

  #name(id: string, ctx: StepContext): Promise<string> {
    const cached = this.#names.get(id)
    if (cached && cached.until > Date.now()) return cached.name
    const name = this.#get(id, 'id,name', ctx).then((node) => (typeof node['name'] === 'string' ? node['name'] : ''))
    if (this.#names.size >= NAME_CACHE_SIZE) this.#names.clear()
    const entry = { name, until: Date.now() + NAME_TTL_MS }
    this.#names.set(id, entry)
    name.catch(() => this.#names.get(id) === entry && this.#names.delete(id)) // a failed read is not remembered
    return name
  }

  /**
   * One Graph read. 5xx, 429 and network errors are retried by the HTTP core; Graph's own
   * temporary codes (1, 2) and rate limits (4, 17, 32, 613) come with other statuses (commonly
   * 400), so they are read from the body and retried here, within the same `retries`.
   */
  async #get(id: string, fields: string, ctx: StepContext): Promise<Record<string, unknown>> {
    const base = this.#config.graph_url ?? DEFAULT_GRAPH_URL
    const url = serviceUrl(base, `/${this.#config.api_version ?? DEFAULT_API_VERSION}/${encodeURIComponent(id)}`)
    url.searchParams.set('fields', fields)
    url.searchParams.set('access_token', this.#config.page_token)
    for (let attempt = 0; ; attempt++) {
      try {
        const output = await callService(GRAPH, this.#http, { method: 'GET', url, headers: { accept: 'application/json' } }, this.#options, ctx)
        return output['json'] as Record<string, unknown>
      } catch (err) {
        const code = graphCode(err)
        if (code === undefined || !RETRY_CODES.has(code) || attempt >= this.#options.retries || ctx.signal.aborted) throw err
        await sleep(250 * 2 ** attempt * (0.5 + Math.random() / 2))
      }
    }
  }
}

/** Graph error codes worth another try: temporary (1, 2) and rate limits (4, 17, 32, 613). */
const RETRY_CODES = new Set([1, 2, 4, 17, 32, 613])

/** The Graph error code in a failed call's answer (one the HTTP core did not retry already). */
function graphCode(err: unknown): number | undefined {
  if (!(err instanceof UpstreamError) || !err.response || err.response.status >= 500 || err.response.status === 429) return undefined
  try {
    const code = (JSON.parse(err.response.body) as { error?: { code?: unknown } }).error?.code
    return typeof code === 'number' ? code : undefined
  } catch {
    return undefined
  }
}

/** Graph's answers: the node's JSON, or its error's message, code and fbtrace_id. */
const GRAPH: Service = {
  name: 'Graph API',
  read(response, mask: Masker): Reading {
    let json: Record<string, unknown> | null = null
    try {
      json = JSON.parse(quoteLongIntegers(response.body)) as Record<string, unknown>
    } catch {
      return { error: `an answer that is not JSON (${mask.body(response.body).slice(0, 200)})` }
    }
    const error = json?.['error'] as { message?: unknown; code?: unknown; error_subcode?: unknown; fbtrace_id?: unknown } | undefined
    if (response.status < 300 && !error && json) return { output: { json } }
    if (!error) return { error: 'an error without a message' }
    const details = [`code ${String(error.code ?? '?')}`, error.error_subcode === undefined ? '' : `subcode ${String(error.error_subcode)}`, error.fbtrace_id === undefined ? '' : `fbtrace_id ${String(error.fbtrace_id)}`]
    return { error: `${String(error.message ?? 'no message')} (${details.filter(Boolean).join(', ')})` }
  },
}

/** Where the URL and the token go at Meta, for `hookrelay urls` (token values are not printed: they are in your environment). */
export const FACEBOOK_STEPS = [
  'Meta for Developers → your app → «Webhooks» → «Page» → «Subscribe to this object»: Callback URL = the URL above, Verify token = the value of `verify_token`; then subscribe to the field «leadgen»',
  'install the app on the Page: POST /<page-id>/subscribed_apps?subscribed_fields=leadgen with the Page token',
  'the Page token (`page_token`, long-lived) needs leads_retrieval, pages_show_list, pages_read_engagement, pages_manage_ads, pages_manage_metadata; the app must be Live (in development mode only test leads arrive)',
]
