/**
 * `vk_ads.leads`: lead forms of VK Ads (ads.vk.com, myTarget's successor), which pushes nothing:
 * hookrelay asks for new leads every `interval` with an OAuth token, one run per lead. The
 * endpoint and its fields come from a third-party SDK (alexeitsurkan/vk-ads-php-sdk), not from
 * VK's documentation: see ../shared/apis/LEAD-SOURCES.md, section 3.
 */
import type { BuildContext } from '../actions/types.js'
import { parseDuration } from '../config/duration.js'
import type { SourceConfig } from '../config/schema.js'
import { hookrelayError } from '../errors.js'
import type { HttpClient } from '../http/client.js'
import { parseStatusPattern } from '../http/status-pattern.js'
import { compileAnswer } from './answer.js'
import { quoteLongIntegers } from './facebook.js'
import type { CompiledSource } from './source.js'

type VkAdsConfig = Extract<SourceConfig, { type: 'vk_ads.leads' }>

export const DEFAULT_VK_ADS_URL = 'https://ads.vk.com'
const LEADS_PATH = '/api/v1/lead_ads/leads.json'
const DEFAULT_INTERVAL_MS = 60_000
/** Leads asked for at once (the SDK's and the API's page size), and pages in one poll at most. */
const PAGE_SIZE = 50
const MAX_PAGES = 200
/** How far back each poll looks again: a lead the API lists a little late is still found. */
const OVERLAP_MS = 10 * 60_000

/**
 * One poll's result: the leads not seen before, oldest first, and the cursor to keep once they
 * are kept. On the first poll of a pipeline (no cursor yet) no lead is returned: the leads
 * already there are only taken note of, and those that come after them run.
 */
export interface Polled {
  leads: Array<Record<string, unknown>>
  cursor: string
  first: boolean
  /** How many leads the first poll took note of. */
  noted: number
}

/** Where polling got to: the newest `created_at` taken, and the ids taken from OVERLAP_MS before it (asked for again). */
interface Cursor {
  at: string
  seen: string[]
}

export interface CompiledPoller {
  intervalMs: number
  /** Equal for two pollers that ask the same thing the same way (a reload keeps such a poller going). */
  signature: string
  /** What the journal shows of a poll: the request without its token. */
  describe(cursor: string | undefined): { method: string; path: string; query: Record<string, string> }
  /** Asks for the leads created since `cursor` (an API time, inclusive: the dedupe key drops a lead seen twice). */
  poll(cursor: string | undefined, signal: AbortSignal): Promise<Polled>
  /** `in.*` of a lead: its fields, contact_info flattened, each answer under its question. */
  fields(lead: Record<string, unknown>): Record<string, unknown>
}

export function vkAdsSource(config: VkAdsConfig, build: BuildContext, dedupeWindowMs: number): CompiledSource {
  const intervalMs = config.interval === undefined ? DEFAULT_INTERVAL_MS : parseDuration(config.interval)
  if (intervalMs === undefined || intervalMs < 1000) build.problem(['interval'], `'${String(config.interval)}' is not a duration of 1s or more`)
  const timeoutMs = config.timeout === undefined ? 30_000 : (parseDuration(config.timeout) ?? 30_000)
  return {
    type: 'vk_ads.leads',
    webhook: false,
    respond: 'on_receipt', // the poller goes on to the next lead once one is kept
    methods: undefined,
    answer: compileAnswer(undefined, 200, build.withoutSteps(['response'])),
    onError: undefined,
    keyMatches: () => false,
    screen: () => undefined,
    readFields: (req) => ({ fields: leadFields((req.body.value ?? {}) as Record<string, unknown>), warnings: [] }),
    split: undefined,
    firstSteps: [],
    dedupe: build.withoutSteps(['dedupe']).template(config.dedupe ?? '{{ in.id }}', []),
    dedupeWindowMs,
    poller: poller(config, build.http, Math.max(1000, intervalMs ?? DEFAULT_INTERVAL_MS), timeoutMs),
    // Each answer names its question in the lead's own data: `question_text` is no secret's name.
    shape: { pairs: [{ name: 'question_text', value: 'answer_text' }] },
  }
}

function poller(config: VkAdsConfig, http: HttpClient, intervalMs: number, timeoutMs: number): CompiledPoller {
  const base = (config.base_url ?? DEFAULT_VK_ADS_URL).replace(/\/+$/, '')
  const since = (cursor: Cursor | undefined) => (cursor && cursor.at !== '' ? shiftTime(cursor.at, -OVERLAP_MS) : undefined)
  const query = (from: string | undefined, offset: number): Record<string, string> => ({
    limit: String(PAGE_SIZE),
    offset: String(offset),
    sorting: 'created_at',
    ...(from ? { _created_at__gte: from } : {}),
  })
  return {
    intervalMs,
    signature: JSON.stringify([config, intervalMs, timeoutMs]),
    describe: (text) => ({ method: 'GET', path: LEADS_PATH, query: query(since(readCursor(text)), 0) }),
    async poll(text, signal) {
      const cursor = readCursor(text)
      const fetched: Array<Record<string, unknown>> = []
      for (let page = 0; page < MAX_PAGES; page++) {
        const url = new URL(base + LEADS_PATH)
        for (const [name, value] of Object.entries(query(since(cursor), page * PAGE_SIZE))) url.searchParams.set(name, value)
        const call = { method: 'GET', url, headers: { authorization: `Bearer ${config.token}`, accept: 'application/json' }, timeoutMs, retries: 1, success: parseStatusPattern('2**') }
        const items = parseItems((await http.send(call, signal)).response.body)
        fetched.push(...items)
        if (items.length < PAGE_SIZE) break
      }
      const next = JSON.stringify(nextCursor(cursor, fetched))
      if (!cursor) return { leads: [], cursor: next, first: true, noted: fetched.length }
      const seen = new Set(cursor.seen)
      const leads = fetched.filter((lead) => !seen.has(String(lead['id']))).sort(byTime)
      return { leads, cursor: next, first: false, noted: 0 }
    },
    fields: leadFields,
  }
}

function readCursor(text: string | undefined): Cursor | undefined {
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text) as Partial<Cursor>
    return { at: typeof parsed.at === 'string' ? parsed.at : '', seen: Array.isArray(parsed.seen) ? parsed.seen.map(String) : [] }
  } catch {
    return { at: text, seen: [] }
  }
}

/** The newest time taken, and every id taken within OVERLAP_MS of it (all were fetched this time: the window only moves forward). */
function nextCursor(cursor: Cursor | undefined, fetched: Array<Record<string, unknown>>): Cursor {
  const at = fetched.reduce((max, lead) => {
    const time = String(lead['created_at'] ?? '')
    return time > max ? time : max
  }, cursor?.at ?? '')
  const from = at === '' ? '' : shiftTime(at, -OVERLAP_MS)
  const seen = fetched.filter((lead) => String(lead['created_at'] ?? '') >= from).map((lead) => String(lead['id']))
  return { at, seen }
}

function byTime(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return String(a['created_at'] ?? '').localeCompare(String(b['created_at'] ?? '')) || String(a['id']).localeCompare(String(b['id']))
}

/**
 * `2026-01-01 12:00:00` moved by `ms`, in the same form. The API's time zone is not known, and
 * need not be: only the difference counts. A time in another form is kept as it is.
 */
export function shiftTime(text: string, ms: number): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(text)
  if (!m) return text
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  const shifted = new Date(Date.UTC(y, mo - 1, d, h, mi, s) + ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${shifted.getUTCFullYear()}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())}${text[10]}${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}`
}

function parseItems(body: string): Array<Record<string, unknown>> {
  let json: unknown
  try {
    json = JSON.parse(quoteLongIntegers(body))
  } catch {
    throw hookrelayError('HR_SERVICE_ERROR', ['VK Ads', 200, 'an answer that is not JSON'])
  }
  const items = (json as { items?: unknown })?.items
  if (!Array.isArray(items)) throw hookrelayError('HR_SERVICE_ERROR', ['VK Ads', 200, "an answer without 'items'"])
  return items.filter((i): i is Record<string, unknown> => typeof i === 'object' && i !== null)
}

/** `in.*` of a lead: id, form_id, form_name, ad_plan_id, ad_group_id, banner_id, created_at, contact_info's fields, answers by question. */
export function leadFields(lead: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = Object.create(null)
  for (const key of ['id', 'form_id', 'form_name', 'ad_plan_id', 'ad_group_id', 'banner_id', 'created_at']) {
    const value = lead[key]
    if (value !== undefined && value !== null) fields[key] = String(value)
  }
  const contact = lead['contact_info']
  if (typeof contact === 'object' && contact !== null) {
    for (const [key, value] of Object.entries(contact)) if (value !== null && value !== undefined) fields[key] ??= String(value)
  }
  for (const answer of Array.isArray(lead['answers']) ? lead['answers'] : []) {
    const { question_text: question, answer_text: text, answer_options: options } = (answer ?? {}) as Record<string, unknown>
    if (typeof question !== 'string' || question === '' || question in fields) continue
    const chosen = Array.isArray(options) ? options.map((o) => String((o as { text?: unknown })?.text ?? '')).filter(Boolean) : []
    fields[question] = typeof text === 'string' && text !== '' ? text : chosen.join(', ')
  }
  return fields
}
