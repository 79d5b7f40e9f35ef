/** The journal: durable run records through the group-commit writer, and reads for the API. */
import type { Db } from './db.js'
import {
  RunsRepository,
  type InterruptedRun,
  type NewRun,
  type RunDetail,
  type RunFilter,
  type RunFinish,
  type RunSummary,
  type StepFinish,
  type StepStart,
} from './runs.js'
import { BatchWriter } from './writer.js'

/** Where a run's steps are written; the runner sees only this. */
export interface StepRecorder {
  started(step: StepStart): void
  request(seq: number, request: unknown): void
  finished(seq: number, finish: StepFinish): void
}

export class Journal {
  readonly #db: Db
  readonly #runs: RunsRepository
  readonly #writer: BatchWriter

  /** `writer` batches this journal's writes with others on the same file (the letters'). */
  constructor(db: Db, writer: BatchWriter) {
    this.#db = db
    this.#runs = new RunsRepository(db)
    this.#writer = writer
  }

  /** Keeps a new run; resolves once it is on disk. Actions may only start after that. */
  insert(run: NewRun): Promise<void> {
    return this.#writer.write(() => this.#runs.insertRun(run))
  }

  finish(id: string, finish: RunFinish): Promise<void> {
    return this.#writer.write(() => this.#runs.finishRun(id, finish))
  }

  /** Step writes join the next batch without holding the run up; finish() commits after them. */
  recorder(runId: string): StepRecorder {
    return {
      started: (step) => this.#writer.enqueue(() => this.#runs.insertStep(runId, step)),
      request: (seq, request) => this.#writer.enqueue(() => this.#runs.stepRequest(runId, seq, request)),
      finished: (seq, finish) => this.#writer.enqueue(() => this.#runs.finishStep(runId, seq, finish)),
    }
  }

  list(filter: RunFilter): RunSummary[] {
    return this.#runs.list(filter)
  }

  get(id: string): RunDetail | undefined {
    return this.#runs.get(id)
  }

  /**
   * At start: runs a previous process left `running` become `interrupted` (never re-run: the
   * upstream call may already have happened). Returns them, for the operator's letters.
   */
  recoverInterrupted(): InterruptedRun[] {
    return this.#db.transaction(() => this.#runs.markInterrupted(new Date().toISOString()))()
  }

  /** Proves the file is writable (for /healthz) with a real committed write. */
  checkWritable(): Promise<void> {
    return this.#writer.write(() => this.#runs.touchHealth(new Date().toISOString()))
  }

  /** Commits what is queued and closes the file. */
  close(): void {
    this.#writer.flush()
    this.#db.close()
  }
}
