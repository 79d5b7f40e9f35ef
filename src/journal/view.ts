/**
 * The journal as the API and the page show it: runs found by filters and by text, and one run,
 * masked. Both go through here, so what one shows the other shows too.
 */
import type { Masked, Masker } from '../secrets/masker.js'
import { parseBody } from '../sources/body.js'
import type { Journal } from './journal.js'
import type { KeptRequest, RunDetail, RunFilter, RunSummary, SearchHit } from './runs.js'
import { searchText } from './search-text.mjs'

/** The shortest text the search takes: the index is of trigrams. */
export const MIN_SEARCH_CHARS = 3
export const MAX_SEARCH_CHARS = 200

export interface Found {
  runs: RunSummary[]
  /** The cursor for the next (older) page, or null. */
  next: string | null
}

/**
 * A page of runs, newest first; with `q`, only runs whose request holds the text once masked.
 * The index holds the request's values as kept, so a hit is checked against the masked text:
 * a search can never tell whether a secret holds a piece of text. (A page of a search may then
 * hold fewer than `limit` runs; `next` still leads on.)
 */
export function findRuns(journal: Journal, masker: Masker, filter: RunFilter & { q?: string | undefined }): Found {
  const { q, ...rest } = filter
  const limit = filter.limit
  if (q === undefined) {
    const rows = journal.list({ ...rest, limit: limit + 1 })
    const runs = rows.slice(0, limit)
    return { runs, next: rows.length > limit ? (runs.at(-1)?.id ?? null) : null }
  }
  const hits = journal.search(q, { ...rest, limit: limit + 1 })
  const page = hits.slice(0, limit)
  const needle = fold(q)
  const runs = page.filter((hit) => fold(maskedSearchText(hit, masker)).includes(needle)).map(summary)
  return { runs, next: hits.length > limit ? (page.at(-1)?.id ?? null) : null }
}

/** The run as it is shown, masked: the kept body re-read (JSON shows as JSON) and its own secret fields hidden. */
export function runView(run: RunDetail, masker: Masker) {
  const mask = masker.forRun()
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

export type RunView = ReturnType<typeof runView> extends Masked<infer T> ? T : never

function keptBody(kept: KeptRequest): unknown {
  const raw = Buffer.from(kept.raw, kept.encoding === 'base64' ? 'base64' : 'utf8')
  const body = parseBody(raw, kept.headers['content-type'])
  return body.error ? null : body.value
}

/** The hit's search text as the run's own masker shows it. */
function maskedSearchText(hit: SearchHit, masker: Masker): string {
  const mask = masker.forRun()
  const kept = JSON.parse(hit.request) as KeptRequest
  mask.learnFields(keptBody(kept))
  const request = hit.shown === null ? hit.request : JSON.stringify({ ...kept, raw: hit.shown })
  return mask.text(searchText(request))
}

function summary({ request: _request, shown: _shown, ...run }: SearchHit): RunSummary {
  return run
}

function fold(text: string): string {
  return text.toLowerCase()
}
