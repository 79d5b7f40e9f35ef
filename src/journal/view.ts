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

/** How many batches of candidates one search page reads at most (each of up to limit + 1). */
const MAX_SEARCH_BATCHES = 50

/**
 * A page of runs, newest first; with `q`, only runs whose request holds the text once masked.
 * The index holds the request's values as kept, so every candidate is checked against its
 * masked text, and the page and its `next` are made of the runs that pass only: neither what
 * is shown nor where the next page starts can tell that a secret holds a piece of the text.
 */
export function findRuns(journal: Journal, masker: Masker, filter: RunFilter & { q?: string | undefined }): Found {
  const { q, ...rest } = filter
  const limit = filter.limit
  if (q === undefined) {
    const rows = journal.list({ ...rest, limit: limit + 1 })
    const runs = rows.slice(0, limit)
    return { runs, next: rows.length > limit ? (runs.at(-1)?.id ?? null) : null }
  }
  const needle = fold(q)
  const passed: SearchHit[] = []
  let before = rest.before
  let more = false
  for (let batch = 0; batch < MAX_SEARCH_BATCHES && passed.length <= limit; batch++) {
    const { hits, resume } = journal.search(q, { ...rest, before, limit: limit + 1 })
    for (const hit of hits) if (fold(maskedSearchText(hit, masker)).includes(needle)) passed.push(hit)
    more = resume !== undefined
    if (!more) break
    before = resume
  }
  const runs = passed.slice(0, limit).map(summary)
  // Past the batches' bound with candidates left, the next page goes on after the last run shown.
  const next = passed.length > limit || (more && runs.length > 0) ? runs.at(-1)!.id : null
  return { runs, next }
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

/**
 * The hit's search text as the run page shows its request: the body and the query with the
 * values under secret names hidden (whatever their length) and every secret the run's masker
 * knows hidden; cut to the index's lengths only after that.
 */
function maskedSearchText(hit: SearchHit, masker: Masker): string {
  const mask = masker.forRun()
  const kept = JSON.parse(hit.request) as KeptRequest
  mask.learnFields(keptBody(kept))
  mask.learnFields(kept.query)
  const raw = hit.shown ?? (kept.encoding ? kept.raw : mask.body(kept.raw, kept.headers['content-type']))
  const query = JSON.parse(mask.body(JSON.stringify(kept.query ?? {}), 'application/json')) as unknown
  return mask.text(searchText(JSON.stringify({ ...kept, raw, query })))
}

function summary({ request: _request, shown: _shown, ...run }: SearchHit): RunSummary {
  return run
}

function fold(text: string): string {
  return text.toLowerCase()
}
