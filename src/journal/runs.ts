/**
 * The runs repository: prepared statements built once, and row mappers to the API's views.
 * Every text a write takes is `Masked`: nothing reaches the file without passing a Masker.
 */
import type { Masked } from '../secrets/masker.js'
import type { Db } from './db.js'
import { searchText } from './search-text.mjs'
import type { Write } from './writer.js'

/** The most runs past the search index a search reads directly (the index catches up when the writer is idle). */
const MAX_NOT_INDEXED = 20_000

export const RUN_STATUSES = ['running', 'ok', 'failed', 'rejected', 'skipped', 'interrupted', 'duplicate'] as const
export type RunStatus = (typeof RUN_STATUSES)[number]
export type StepStatus = 'running' | 'ok' | 'failed'

/** The request as kept: enough to replay it. `raw` is the body, base64 when not UTF-8. */
export interface KeptRequest {
  method: string
  path: string
  query: Record<string, unknown>
  headers: Record<string, string>
  raw: string
  encoding?: 'base64'
  /** The request line as sent, for a request the HTTP parser refused (its headers and body are not kept). */
  line?: string
  /** For one event of a delivery that carried several (a Facebook batch): the delivery, and which part (from 0) of how many. */
  delivery?: { id: string; part: number; of: number }
}

/** The answer the caller got. */
export interface SentAnswer {
  status: number
  status_text?: string
  headers: Record<string, string>
  body: string
}

export interface NewRun {
  id: string
  pipeline: string
  status: RunStatus
  receivedAt: string
  request: Masked<KeptRequest>
  /** The kept body as it is shown (see incoming.ts Kept), when that differs from the kept body. */
  shown?: Masked<string> | undefined
  replayOf?: string | undefined
  warnings?: Masked<string[]> | undefined
  /** A digest of the run's dedupe key (see Deduplicator), when its pipeline dedupes. */
  dedupeKey?: string | undefined
  /** For a duplicate: the first run with the same key. */
  duplicateOf?: string | undefined
  /** Set for runs kept already finished (rejected, skipped, duplicate). */
  error?: Masked<string> | undefined
  response?: Masked<SentAnswer> | undefined
  finishedAt?: string | undefined
  durationMs?: number | undefined
}

export interface RunFinish {
  status: RunStatus
  finishedAt: string
  durationMs: number
  error?: Masked<string> | undefined
  response?: Masked<SentAnswer> | undefined
  warnings?: Masked<string[]> | undefined
  /** The kept body masked with every secret the run learned, when it learned more while it ran (else it stays as kept). */
  shown?: Masked<string> | undefined
}

export interface StepStart {
  seq: number
  id: string
  type: string
  startedAt: string
}

export interface StepFinish {
  status: StepStatus
  durationMs: number
  request?: Masked<unknown> | undefined
  response?: Masked<unknown> | undefined
  output?: Masked<unknown> | undefined
  error?: Masked<string> | undefined
}

/** GET /journal's list item. */
export interface RunSummary {
  id: string
  pipeline: string
  status: RunStatus
  received_at: string
  duration_ms: number | null
  error: string | null
}

export interface StepView {
  id: string
  type: string
  status: StepStatus
  started_at: string
  duration_ms: number | null
  request: unknown
  response: unknown
  output?: unknown
  error: string | null
}

/** GET /journal/RUN_ID, before the request body is re-read for display. */
export interface RunDetail extends RunSummary {
  finished_at: string | null
  request: KeptRequest
  response: SentAnswer | null
  replay_of: string | null
  replays: string[]
  /** The kept body as the run's masker would show it (see RunFinish.shown); null when the kept one shows no more. */
  shown: string | null
  duplicate_of: string | null
  /** Runs kept as duplicates of this one. */
  duplicates: string[]
  warnings: string[]
  steps: StepView[]
}

/** A run found `running` at start, with the step it was in. */
export interface InterruptedRun {
  id: string
  pipeline: string
  received_at: string
  step_id: string | null
  step_type: string | null
  error: string
}

export interface RunFilter {
  pipeline?: string | undefined
  status?: RunStatus | undefined
  before?: string | undefined
  /** Run ids from this one (received at or after its time: see uuidv7Floor). */
  since?: string | undefined
  /** Run ids below this one (received before its time). */
  until?: string | undefined
  limit: number
}

/** A search hit: the summary, and the request it was found in (to check it against the masked text). */
export interface SearchHit extends RunSummary {
  request: string
  shown: string | null
}

/** Candidates, newest first, and where to go on from (a run id for `before`), or undefined when there are no more. */
export interface SearchBatch {
  hits: SearchHit[]
  resume: string | undefined
}

/** A value for a JSON column: objects go as they are (the writer thread serializes them), scalars as JSON text. */
const jsonValue = (value: unknown): unknown => (value === undefined ? null : typeof value === 'object' && value !== null ? value : JSON.stringify(value))
const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T))

type RunRow = Omit<RunDetail, 'request' | 'response' | 'replays' | 'duplicates' | 'warnings' | 'steps'> & {
  request: string
  response: string | null
  warnings: string | null
}
type StepRow = Omit<StepView, 'request' | 'response' | 'output'> & {
  request: string | null
  response: string | null
  output: string | null
}

const INSERT_RUN = `INSERT INTO runs (id, pipeline, status, received_at, finished_at, duration_ms, error, request, response, replay_of, warnings,
    dedupe_key, duplicate_of, shown)
  VALUES (@id, @pipeline, @status, @receivedAt, @finishedAt, @durationMs, @error, @request, @response, @replayOf, @warnings, @dedupeKey, @duplicateOf,
    @shown)`
const FINISH_RUN = `UPDATE runs SET status = @status, finished_at = @finishedAt, duration_ms = @durationMs, error = @error, response = @response,
    warnings = @warnings, shown = coalesce(@shown, shown)
  WHERE id = @id`
const REVISE_STEP = `UPDATE steps SET request = coalesce(@request, request), response = coalesce(@response, response), output = coalesce(@output, output),
    error = coalesce(@error, error)
  WHERE run_id = @runId AND seq = @seq`
const INSERT_STEP = `INSERT INTO steps (run_id, seq, id, type, status, started_at, duration_ms, request, response, output, error)
  VALUES (@runId, @seq, @id, @type, @status, @startedAt, @durationMs, @request, @response, @output, @error)`
const FINISH_STEP = `UPDATE steps SET status = @status, duration_ms = @durationMs, request = coalesce(@request, request),
    response = @response, output = @output, error = @error
  WHERE run_id = @runId AND seq = @seq`
/**
 * The dedupe lookup (see pipeline/dedupe.ts), through its index or not at all. Only runs that
 * ran to an end count as first: a duplicate points at one, a rejected or skipped one never ran,
 * and an interrupted one (or one whose end the journal could not record) may not have done its
 * work: the sender's retry is its way back, so it runs. (A run going on in this process is
 * found in memory.) `id >= @since` keeps to the window (ids begin with their time).
 */
export const FIRST_WITH_KEY = `SELECT id, status, response FROM runs INDEXED BY runs_by_dedupe_key
  WHERE dedupe_key = @key AND id >= @since AND status IN ('ok', 'failed')
  ORDER BY id LIMIT 1`
const TOUCH_HEALTH = 'UPDATE health SET checked_at = ?, room = zeroblob(16384) WHERE id = 1'
const RELEASE_ROOM = 'UPDATE health SET room = NULL WHERE id = 1'

/** The journal's writes, as SQL for the writer thread (see writer.ts). */
export const runWrites = {
  insertRun(run: NewRun): Write {
    return [
      INSERT_RUN,
      {
        id: run.id,
        pipeline: run.pipeline,
        status: run.status,
        receivedAt: run.receivedAt,
        finishedAt: run.finishedAt ?? null,
        durationMs: run.durationMs ?? null,
        error: run.error ?? null,
        request: run.request, // objects are stored as JSON by the writer thread
        response: run.response ?? null,
        replayOf: run.replayOf ?? null,
        warnings: run.warnings?.length ? run.warnings : null,
        dedupeKey: run.dedupeKey ?? null,
        duplicateOf: run.duplicateOf ?? null,
        shown: run.shown ?? null,
      },
    ]
  },

  finishRun(id: string, finish: RunFinish): Write {
    const { status, finishedAt, durationMs } = finish
    const warnings = finish.warnings?.length ? finish.warnings : null
    return [FINISH_RUN, { id, status, finishedAt, durationMs, error: finish.error ?? null, response: finish.response ?? null, warnings, shown: finish.shown ?? null }]
  },

  /** A step's parts masked again with what the run learned after they were written. */
  reviseStep(runId: string, seq: number, parts: Pick<StepFinish, 'request' | 'response' | 'output' | 'error'>): Write {
    const { request, response, output, error } = parts
    return [REVISE_STEP, { runId, seq, request: jsonValue(request), response: jsonValue(response), output: jsonValue(output), error: error ?? null }]
  },

  /** A step row: `running` with its request (before the call goes out), or already finished. */
  insertStep(runId: string, step: StepStart, finish?: StepFinish): Write {
    return [
      INSERT_STEP,
      {
        runId,
        ...step,
        status: finish?.status ?? 'running',
        durationMs: finish && finish.status !== 'running' ? finish.durationMs : null,
        request: jsonValue(finish?.request),
        response: jsonValue(finish?.response),
        output: jsonValue(finish?.output),
        error: finish?.error ?? null,
      },
    ]
  },

  finishStep(runId: string, seq: number, finish: StepFinish): Write {
    return [
      FINISH_STEP,
      {
        runId,
        seq,
        status: finish.status,
        durationMs: finish.durationMs,
        request: jsonValue(finish.request),
        response: jsonValue(finish.response),
        output: jsonValue(finish.output),
        error: finish.error ?? null,
      },
    ]
  },

  /** A committed write that also needs room for a run's worth of pages (fails on a full disk). */
  touchHealth(at: string): Write[] {
    return [
      [TOUCH_HEALTH, [at]],
      [RELEASE_ROOM, []],
    ]
  },
}

/** Reads, and the writes done at start on the main connection, with statements prepared once. */
export class RunsRepository {
  readonly #list
  readonly #search
  readonly #notIndexed
  readonly #searchTogether
  readonly #hasPipeline
  readonly #pipelines
  readonly #get
  readonly #steps
  readonly #replays
  readonly #duplicates
  readonly #firstWithKey
  readonly #running
  readonly #interruptRun
  readonly #interruptSteps

  constructor(db: Db) {
    this.#list = db.prepare(
      `SELECT id, pipeline, status, received_at, duration_ms, error FROM runs
       WHERE (@pipeline IS NULL OR pipeline = @pipeline) AND (@status IS NULL OR status = @status)
         AND (@before IS NULL OR id < @before) AND (@since IS NULL OR id >= @since) AND (@until IS NULL OR id < @until)
       ORDER BY id DESC LIMIT @limit`,
    )
    // Through the trigram index, newest (last inserted) first, so a LIMIT stops the walk early.
    // The cursor is a run id, turned into its row: retention deletes oldest first, so a cursor
    // whose run is gone has nothing older left either. The runs the writer thread has not indexed
    // yet (past search_state, see sql-worker.mjs) are read directly, newest first, and come first.
    this.#notIndexed = db.prepare(
      `SELECT r.id, r.pipeline, r.status, r.received_at, r.duration_ms, r.error, r.request, r.shown
       FROM runs r
       WHERE r.rowid > (SELECT last_rowid FROM search_state WHERE id = 1)
         AND (@pipeline IS NULL OR r.pipeline = @pipeline) AND (@status IS NULL OR r.status = @status)
         AND (@before IS NULL OR r.rowid < (SELECT rowid FROM runs WHERE id = @before))
         AND (@since IS NULL OR r.id >= @since) AND (@until IS NULL OR r.id < @until)
       ORDER BY r.rowid DESC LIMIT ${MAX_NOT_INDEXED}`,
    )
    this.#search = db.prepare(
      `SELECT r.id, r.pipeline, r.status, r.received_at, r.duration_ms, r.error, r.request, r.shown
       FROM runs_search s JOIN runs r ON r.rowid = s.rowid
       WHERE s.text MATCH @match AND (@pipeline IS NULL OR r.pipeline = @pipeline) AND (@status IS NULL OR r.status = @status)
         AND (@before IS NULL OR s.rowid < (SELECT rowid FROM runs WHERE id = @before))
         AND (@since IS NULL OR r.id >= @since) AND (@until IS NULL OR r.id < @until)
       ORDER BY s.rowid DESC LIMIT @limit`,
    )
    // Both reads in one read transaction: the writer thread indexing meanwhile cannot make a run show twice, or not at all.
    this.#searchTogether = db.transaction((text: string, filter: RunFilter) => this.#searchInOne(text, filter))
    this.#hasPipeline = db.prepare('SELECT 1 FROM runs WHERE pipeline = ? LIMIT 1').pluck()
    this.#pipelines = db.prepare('SELECT DISTINCT pipeline FROM runs ORDER BY pipeline').pluck()
    this.#get = db.prepare(
      `SELECT id, pipeline, status, received_at, finished_at, duration_ms, error, request, response, replay_of, duplicate_of, warnings, shown
       FROM runs WHERE id = ?`,
    )
    this.#steps = db.prepare(
      `SELECT id, type, status, started_at, duration_ms, request, response, output, error FROM steps WHERE run_id = ? ORDER BY seq`,
    )
    this.#replays = db.prepare('SELECT id FROM runs WHERE replay_of = ? ORDER BY id').pluck()
    this.#duplicates = db.prepare('SELECT id FROM runs WHERE duplicate_of = ? ORDER BY id').pluck()
    this.#firstWithKey = db.prepare(FIRST_WITH_KEY)
    this.#running = db.prepare(
      `SELECT r.id, r.pipeline, r.received_at, s.id AS step_id, s.type AS step_type
       FROM runs r LEFT JOIN steps s ON s.run_id = r.id AND s.status = 'running'
       WHERE r.status = 'running' ORDER BY r.id`,
    )
    this.#interruptRun = db.prepare("UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ?")
    this.#interruptSteps = db.prepare("UPDATE steps SET status = 'failed', error = ? WHERE run_id = ? AND status = 'running'")
  }

  /** Marks every `running` run interrupted (call inside a transaction). */
  markInterrupted(at: string): InterruptedRun[] {
    const runs = this.#running.all() as Array<Omit<InterruptedRun, 'error'>>
    return runs.map((run) => {
      const error = run.step_id
        ? `interrupted: the process stopped during step '${run.step_id}'; its call may or may not have reached the upstream`
        : 'interrupted: the process stopped before the run ended'
      this.#interruptSteps.run('interrupted: the process stopped during this step', run.id)
      this.#interruptRun.run(at, error, run.id)
      return { ...run, error }
    })
  }

  /** The first run kept with `key` since the run id `since`, and the answer it got. */
  firstWithKey(key: string, since: string): { id: string; status: RunStatus; response: SentAnswer | null } | undefined {
    const row = this.#firstWithKey.get({ key, since }) as { id: string; status: RunStatus; response: string | null } | undefined
    return row && { id: row.id, status: row.status, response: parse<SentAnswer>(row.response) }
  }

  list(filter: RunFilter): RunSummary[] {
    return this.#list.all(filterParams(filter)) as RunSummary[]
  }

  /**
   * Runs whose request's values contain `text` (3 characters or more; case is ignored), newest
   * first, up to `filter.limit`: those not indexed yet, then the index's hits.
   */
  search(text: string, filter: RunFilter): SearchBatch {
    return this.#searchTogether(text, filter)
  }

  #searchInOne(text: string, filter: RunFilter): SearchBatch {
    const params = filterParams(filter)
    const needle = text.toLowerCase()
    const tail = this.#notIndexed.all(params) as SearchHit[]
    const recent = tail.filter((run) => searchText(run.request, run.shown).toLowerCase().includes(needle))
    if (recent.length >= filter.limit) return { hits: recent.slice(0, filter.limit), resume: recent[filter.limit - 1]!.id }
    // Read as many as it may at once: the next batch goes on below the oldest run read.
    if (tail.length === MAX_NOT_INDEXED) return { hits: recent, resume: tail.at(-1)!.id }
    const wanted = filter.limit - recent.length
    const indexed = this.#search.all({ ...params, limit: wanted, match: `"${text.replaceAll('"', '""')}"` }) as SearchHit[]
    const hits = [...recent, ...indexed]
    return { hits, resume: indexed.length === wanted ? hits.at(-1)!.id : undefined }
  }

  /** Whether the journal has a run of `pipeline`. */
  hasPipeline(pipeline: string): boolean {
    return this.#hasPipeline.get(pipeline) !== undefined
  }

  /** The pipelines the journal has runs of. */
  pipelines(): string[] {
    return this.#pipelines.all() as string[]
  }

  get(id: string): RunDetail | undefined {
    const row = this.#get.get(id) as RunRow | undefined
    if (!row) return undefined
    const steps = (this.#steps.all(id) as StepRow[]).map(toStepView)
    return {
      ...row,
      request: JSON.parse(row.request) as KeptRequest,
      response: parse<SentAnswer>(row.response),
      replays: this.#replays.all(id) as string[],
      duplicates: this.#duplicates.all(id) as string[],
      warnings: parse<string[]>(row.warnings) ?? [],
      steps,
    }
  }
}

function filterParams(filter: RunFilter) {
  return {
    pipeline: filter.pipeline ?? null,
    status: filter.status ?? null,
    before: filter.before ?? null,
    since: filter.since ?? null,
    until: filter.until ?? null,
    limit: filter.limit,
  }
}

function toStepView(row: StepRow): StepView {
  const view: StepView = {
    id: row.id,
    type: row.type,
    status: row.status,
    started_at: row.started_at,
    duration_ms: row.duration_ms,
    request: parse(row.request),
    response: parse(row.response),
    error: row.error,
  }
  if (row.output !== null) view.output = parse(row.output)
  return view
}
