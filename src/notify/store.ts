/** The letters' tables: failures waiting to be reported, and the outbox. */
import type { Db } from '../journal/db.js'
import type { Write } from '../journal/writer.js'

/** What a letter says about one failed or interrupted run; every text in it is already masked. */
export interface FailureSummary {
  runId: string
  pipeline: string
  pipelineName: string
  status: 'failed' | 'interrupted'
  receivedAt: string
  step?: string | undefined
  stepType?: string | undefined
  error: string
  upstreamStatus?: number | undefined
  /** The first lines of the upstream's answer. */
  answer?: string | undefined
}

export interface Letter {
  id: number
  pipeline: string
  subject: string
  body: string
  attempts: number
}

export class LetterStore {
  readonly #db: Db
  readonly #failuresOf
  readonly #dropFailures
  readonly #pipelinesWaiting
  readonly #lastLetterAt
  readonly #addLetter
  readonly #nextDue
  readonly #nextDueAt
  readonly #markSent
  readonly #markFailed

  constructor(db: Db) {
    this.#db = db
    this.#failuresOf = db.prepare('SELECT summary FROM failures WHERE pipeline = ? ORDER BY failed_at, run_id').pluck()
    this.#dropFailures = db.prepare('DELETE FROM failures WHERE pipeline = ?')
    this.#pipelinesWaiting = db.prepare('SELECT DISTINCT pipeline FROM failures').pluck()
    this.#lastLetterAt = db.prepare('SELECT max(created_at) FROM letters WHERE pipeline = ?').pluck()
    this.#addLetter = db.prepare('INSERT INTO letters (pipeline, subject, body, created_at, due_at) VALUES (?, ?, ?, ?, ?)')
    this.#nextDue = db.prepare('SELECT id, pipeline, subject, body, attempts FROM letters WHERE sent_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT 1')
    this.#nextDueAt = db.prepare('SELECT min(due_at) FROM letters WHERE sent_at IS NULL').pluck()
    this.#markSent = db.prepare('UPDATE letters SET sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?')
    this.#markFailed = db.prepare('UPDATE letters SET attempts = attempts + 1, last_error = ?, due_at = ? WHERE id = ?')
  }

  /** For the writer thread: a failure goes in the same batch as its run's end. */
  static addFailure(summary: FailureSummary, at: Date): Write {
    return ['INSERT OR IGNORE INTO failures (run_id, pipeline, summary, failed_at) VALUES (?, ?, ?, ?)', [summary.runId, summary.pipeline, JSON.stringify(summary), at.toISOString()]]
  }

  pipelinesWaiting(): string[] {
    return this.#pipelinesWaiting.all() as string[]
  }

  lastLetterAt(pipeline: string): Date | undefined {
    const at = this.#lastLetterAt.get(pipeline) as string | null
    return at ? new Date(at) : undefined
  }

  /** Turns what waits for `pipeline` into one letter, in one transaction; false when nothing waits. */
  composeLetter(pipeline: string, at: Date, compose: (failures: FailureSummary[]) => { subject: string; body: string }): boolean {
    return this.#db.transaction(() => {
      const failures = (this.#failuresOf.all(pipeline) as string[]).map((s) => JSON.parse(s) as FailureSummary)
      if (failures.length === 0) return false
      const { subject, body } = compose(failures)
      this.#addLetter.run(pipeline, subject, body, at.toISOString(), at.toISOString())
      this.#dropFailures.run(pipeline)
      return true
    })()
  }

  nextDue(at: Date): Letter | undefined {
    return this.#nextDue.get(at.toISOString()) as Letter | undefined
  }

  nextDueAt(): Date | undefined {
    const at = this.#nextDueAt.get() as string | null
    return at ? new Date(at) : undefined
  }

  markSent(id: number, at: Date): void {
    this.#markSent.run(at.toISOString(), id)
  }

  markFailed(id: number, error: string, retryAt: Date): void {
    this.#markFailed.run(error, retryAt.toISOString(), id)
  }
}
