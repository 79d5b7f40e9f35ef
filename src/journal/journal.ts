/** The journal: durable run records through the group-commit writer, and reads for the API. */
import { hookrelayError } from '../errors.js'
import type { Masked } from '../secrets/masker.js'
import type { Db } from './db.js'
import {
  runWrites,
  RunsRepository,
  type InterruptedRun,
  type NewRun,
  type RunDetail,
  type RunFilter,
  type RunFinish,
  type RunStatus,
  type RunSummary,
  type SearchBatch,
  type SentAnswer,
  type StepFinish,
  type StepStart,
} from './runs.js'
import { runNow, type BatchWriter, type Write } from './writer.js'

/** Where a run's steps are written; the runner sees only this. */
export interface StepRecorder {
  started(step: StepStart): void
  request(seq: number, request: Masked<unknown>): void
  finished(seq: number, finish: StepFinish): void
  /** Writes a finished step's parts again, masked with what the run learned after it. */
  revise(seq: number, parts: Pick<StepFinish, 'request' | 'response' | 'output' | 'error'>): void
}

const SET_CURSOR = `INSERT INTO cursors (pipeline, value, updated_at) VALUES (@pipeline, @value, @at)
  ON CONFLICT (pipeline) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`

export class Journal {
  readonly #db: Db
  readonly #runs: RunsRepository
  readonly #writer: BatchWriter
  readonly #cursor
  #health: Promise<void> | undefined

  /** `writer` batches this journal's writes with others on the same file (the letters'). */
  constructor(db: Db, writer: BatchWriter) {
    this.#db = db
    this.#runs = new RunsRepository(db)
    this.#writer = writer
    this.#cursor = db.prepare('SELECT value FROM cursors WHERE pipeline = ?').pluck()
  }

  /**
   * Keeps a new run; resolves once it is on disk. Actions may only start after that. `also`
   * commits with it (a failure queued for the operator's letter). Refused with HR_JOURNAL_BUSY,
   * before anything is queued, while the work waiting for the disk is at its bound: new runs
   * wait for the disk to catch up, the runs under way never do.
   */
  insert(run: NewRun, ...also: Write[]): Promise<void> {
    if (!this.#writer.hasRoom()) return Promise.reject(hookrelayError('HR_JOURNAL_BUSY'))
    return this.#writer.write(runWrites.insertRun(run), ...also)
  }

  /** Records how a run ended, with `also` in the same commit. */
  finish(id: string, finish: RunFinish, ...also: Write[]): Promise<void> {
    return this.#writer.write(runWrites.finishRun(id, finish), ...also)
  }

  /**
   * Step writes join the next batch without holding the run up (the run's finish commits after
   * them). A step is written when its request is known, before the call goes out, and completed
   * when it ends; a step without a request (json.parse) is written once, finished.
   */
  recorder(runId: string): StepRecorder {
    const open = new Map<number, StepStart>()
    const written = new Set<number>()
    return {
      started: (step) => void open.set(step.seq, step),
      request: (seq, request) => {
        const step = open.get(seq)
        if (!step || written.has(seq)) return
        written.add(seq)
        this.#writer.enqueue(runWrites.insertStep(runId, step, { status: 'running', durationMs: 0, request }))
      },
      finished: (seq, finish) => {
        const step = open.get(seq)
        // Its request is in the row already: only what is new goes.
        if (written.has(seq)) this.#writer.enqueue(runWrites.finishStep(runId, seq, { status: finish.status, durationMs: finish.durationMs, response: finish.response, output: finish.output, error: finish.error }))
        else if (step) this.#writer.enqueue(runWrites.insertStep(runId, step, finish))
      },
      revise: (seq, parts) => this.#writer.enqueue(runWrites.reviseStep(runId, seq, parts)),
    }
  }

  list(filter: RunFilter): RunSummary[] {
    return this.#runs.list(filter)
  }

  get(id: string): RunDetail | undefined {
    return this.#runs.get(id)
  }

  /** Runs whose request's values contain `text` (see runs_search); check hits with view.ts's findRuns. */
  search(text: string, filter: RunFilter): SearchBatch {
    return this.#runs.search(text, filter)
  }

  hasPipeline(pipeline: string): boolean {
    return this.#runs.hasPipeline(pipeline)
  }

  /** The pipelines the journal has runs of. */
  pipelines(): string[] {
    return this.#runs.pipelines()
  }

  /** The first run kept with dedupe key digest `key` since the run id `since` (see pipeline/dedupe.ts). */
  firstWithKey(key: string, since: string): { id: string; status: RunStatus; response: SentAnswer | null } | undefined {
    return this.#runs.firstWithKey(key, since)
  }

  /**
   * At start, before the server listens: runs a previous process left `running` become
   * `interrupted` (never re-run: the upstream call may already have happened). What `also`
   * gives for a run (its failure for the operator's letter) commits in the same transaction.
   */
  recoverInterrupted(also: (run: InterruptedRun) => Write[] = () => []): InterruptedRun[] {
    return this.#db.transaction(() => {
      const runs = this.#runs.markInterrupted(new Date().toISOString())
      for (const run of runs) for (const write of also(run)) runNow(this.#db, write)
      return runs
    })()
  }

  /** Where a polling source got to (see sources/pollers.ts). */
  cursor(pipeline: string): string | undefined {
    return this.#cursor.get(pipeline) as string | undefined
  }

  /** Records where a polling source got to, once what it polled is kept. */
  setCursor(pipeline: string, value: string): Promise<void> {
    return this.#writer.write([SET_CURSOR, { pipeline, value, at: new Date().toISOString() }])
  }

  /**
   * Proves the file is writable and has room (for /healthz) with a real committed write.
   * Checks asked for while one is under way share it: a flood of health checks is one write.
   */
  checkWritable(): Promise<void> {
    this.#health ??= this.#writer.write(...runWrites.touchHealth(new Date().toISOString())).finally(() => (this.#health = undefined))
    return this.#health
  }

  /** Commits what is queued, stops the writer and closes the file. */
  async close(): Promise<void> {
    await this.#writer.close()
    this.#db.close()
  }
}
