/**
 * The letters' tables: failures waiting to be reported, and the outbox. Reads run on the main
 * connection; writes are handed to the journal's writer thread (see journal/writer.ts), so a
 * locked or full disk never blocks the event loop here either.
 */
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

export const letterWrites = {
  /** A failure to report; it goes in the same commit as its run's end. */
  addFailure(summary: FailureSummary, at: Date): Write {
    return ['INSERT OR IGNORE INTO failures (run_id, pipeline, summary, failed_at) VALUES (?, ?, ?, ?)', [summary.runId, summary.pipeline, summary, at.toISOString()]]
  },

  /** A letter into the outbox, and the failures it reports out of the queue: together. */
  addLetter(pipeline: string, runIds: string[], letter: { subject: string; body: string }, at: Date): Write[] {
    return [
      ['INSERT INTO letters (pipeline, subject, body, created_at, due_at, run_ids) VALUES (?, ?, ?, ?, ?, ?)', [pipeline, letter.subject, letter.body, at.toISOString(), at.toISOString(), runIds]],
      ['DELETE FROM failures WHERE run_id IN (SELECT value FROM json_each(?))', [runIds]],
    ]
  },

  markSent(id: number, at: Date): Write {
    return ['UPDATE letters SET sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?', [at.toISOString(), id]]
  },

  markFailed(id: number, error: string, retryAt: Date): Write {
    return ['UPDATE letters SET attempts = attempts + 1, last_error = ?, due_at = ? WHERE id = ?', [error, retryAt.toISOString(), id]]
  },
}

export class LetterStore {
  readonly #failuresOf
  readonly #pipelinesWaiting
  readonly #lastLetterAt
  readonly #nextDue
  readonly #nextDueAt

  constructor(db: Db) {
    this.#failuresOf = db.prepare('SELECT summary FROM failures WHERE pipeline = ? ORDER BY failed_at, run_id').pluck()
    this.#pipelinesWaiting = db.prepare('SELECT DISTINCT pipeline FROM failures').pluck()
    this.#lastLetterAt = db.prepare('SELECT max(created_at) FROM letters WHERE pipeline = ?').pluck()
    this.#nextDue = db.prepare('SELECT id, pipeline, subject, body, attempts FROM letters WHERE sent_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT 1')
    this.#nextDueAt = db.prepare('SELECT min(due_at) FROM letters WHERE sent_at IS NULL').pluck()
  }

  failuresOf(pipeline: string): FailureSummary[] {
    return (this.#failuresOf.all(pipeline) as string[]).map((s) => JSON.parse(s) as FailureSummary)
  }

  pipelinesWaiting(): string[] {
    return this.#pipelinesWaiting.all() as string[]
  }

  lastLetterAt(pipeline: string): Date | undefined {
    const at = this.#lastLetterAt.get(pipeline) as string | null
    return at ? new Date(at) : undefined
  }

  nextDue(at: Date): Letter | undefined {
    return this.#nextDue.get(at.toISOString()) as Letter | undefined
  }

  nextDueAt(): Date | undefined {
    const at = this.#nextDueAt.get() as string | null
    return at ? new Date(at) : undefined
  }
}
