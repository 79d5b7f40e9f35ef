/**
 * The journal as the API and the page show it: runs found by filters and by text, and one run,
 * masked. Both go through here, so what one shows the other shows too.
 */
import type { Masked, Masker } from '../secrets/masker.js'
import type { SecretShape } from '../secrets/names.js'
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
 * The index holds the request's values as shown, without those under secret names; every
 * candidate is still checked against its text masked with the config's secrets (a reload may
 * have added one), and the page and its `next` are made of the runs that pass only: neither
 * what is shown nor where the next page starts can tell that a secret holds a piece of the text.
 */
export function findRuns(journal: Journal, masker: Masker, filter: RunFilter & { q?: string | undefined }, shapeOf: ShapeOf = () => undefined): Found {
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
    for (const hit of hits) if (fold(maskedSearchText(hit, masker.forRun(shapeOf(hit.pipeline)))).includes(needle)) passed.push(hit)
    more = resume !== undefined
    if (!more) break
    before = resume
  }
  const runs = passed.slice(0, limit).map(summary)
  // Past the batches' bound with candidates left, the next page goes on after the last run shown.
  const next = passed.length > limit || (more && runs.length > 0) ? runs.at(-1)!.id : null
  return { runs, next }
}

/**
 * The run as it is shown, masked: the kept body re-read (JSON shows as JSON), as `shown` has it.
 * Nothing is learned again: the run's own secrets were applied when it was kept (`shown`), and
 * the config's are applied now, so reading a run back costs no more than keeping it did. Only a
 * run kept before `shown` was made at intake (hookrelay 0.1 journals) has its body's
 * secret-named values learned here, within a run's budget. `shape` is its source's (VK's
 * answers), when its pipeline is still configured.
 */
export function runView(run: RunDetail, masker: Masker, shape?: SecretShape) {
  const mask = masker.forRun(shape)
  const { raw: _raw, encoding, ...request } = run.request
  const body = keptBody(run.shown === null ? run.request : { ...run.request, raw: run.shown })
  const raw = shownText(run.request, run.shown, mask, body)
  const { shown: _shown, ...rest } = run
  return mask.value({ ...rest, request: { ...request, body, raw, ...(encoding ? { encoding } : {}) } })
}

export type RunView = ReturnType<typeof runView> extends Masked<infer T> ? T : never

/** A pipeline's source shape, when the pipeline is still configured (see SecretShape). */
export type ShapeOf = (pipeline: string) => SecretShape | undefined

/** The kept body as every output shows it: `shown`, else the kept one (`parsed`, as its parser reads it) masked as a body. */
function shownText(kept: KeptRequest, shown: string | null, mask: Masker, parsed?: unknown): string {
  if (shown !== null) return shown
  if (kept.encoding) return kept.raw
  mask.learnFields(parsed ?? keptBody(kept)) // a run kept before `shown` was (see runView): bounded, as any run's learning
  return mask.body(kept.raw, kept.headers['content-type'])
}

function keptBody(kept: KeptRequest): unknown {
  const raw = Buffer.from(kept.raw, kept.encoding === 'base64' ? 'base64' : 'utf8')
  const body = parseBody(raw, kept.headers['content-type'])
  return body.error ? null : body.value
}

/**
 * The hit's search text as the run page shows its request: the body as shown (the run's secrets
 * hidden when it was kept; values under secret names left out) with the config's secrets hidden;
 * cut to the index's lengths only after that.
 */
function maskedSearchText(hit: SearchHit, mask: Masker): string {
  const kept = JSON.parse(hit.request) as KeptRequest
  return mask.text(searchText(hit.request, shownText(kept, hit.shown, mask)))
}

function summary({ request: _request, shown: _shown, ...run }: SearchHit): RunSummary {
  return run
}

function fold(text: string): string {
  return text.toLowerCase()
}
