/**
 * Duplicate deliveries. A pipeline's `dedupe` template gives each request a key; a request whose
 * key a run was kept with within `dedupe_window` runs nothing: it is kept as a `duplicate` run
 * pointing at the first one, and gets the first one's answer. Senders redeliver (Facebook for
 * 36 hours, VK on every error, Tilda twice), so "did this lead arrive already" is the question.
 *
 * The journal holds the keys as SHA-256 digests with the pipeline id (constant length, and no
 * secret a key might contain); the lookup goes through an index. A first run still in flight
 * here is found in memory, so two deliveries arriving together run once.
 */
import { createHash } from 'node:crypto'
import type { Journal } from '../journal/journal.js'
import { uuidv7Floor } from '../journal/retention.js'
import type { RunStatus, SentAnswer } from '../journal/runs.js'
import type { Masked } from '../secrets/masker.js'
import type { Answer } from '../sources/answer.js'

/**
 * The first run with a key: its id, and its answer: the one sent (to wait for, while it runs
 * here; null when it sent none), or the journal's copy, masked (null when none was kept).
 */
export type FirstRun = { runId: string; running: Promise<Masked<Answer> | null> } | { runId: string; kept: SentAnswer | null; status: RunStatus }

/** What the first run with a key does while it runs: settle its answer, and let go at its end. */
export interface Claim {
  answered(answer: Masked<Answer>): void
  release(): void
}

export class Deduplicator {
  readonly #journal: Journal
  readonly #inFlight = new Map<string, { runId: string; answer: Promise<Masked<Answer> | null>; settle: (answer: Masked<Answer> | null) => void }>()

  constructor(journal: Journal) {
    this.#journal = journal
  }

  /** The digest the journal keeps for `key` of `pipeline`. */
  static digest(pipeline: string, key: string): string {
    return createHash('sha256').update(`${pipeline}\n${key}`).digest('hex')
  }

  /** The first run kept with `digest` within `windowMs`, here or in the journal. */
  first(digest: string, windowMs: number): FirstRun | undefined {
    const running = this.#inFlight.get(digest)
    if (running) return { runId: running.runId, running: running.answer }
    const kept = this.#journal.firstWithKey(digest, uuidv7Floor(Date.now() - windowMs))
    return kept && { runId: kept.id, kept: kept.response, status: kept.status }
  }

  /** Makes `runId` the first run with `digest` for as long as it runs. Call first() just before, in the same turn. */
  claim(digest: string, runId: string): Claim {
    let settle!: (answer: Masked<Answer> | null) => void
    const answer = new Promise<Masked<Answer> | null>((resolve) => (settle = resolve))
    const entry = { runId, answer, settle }
    this.#inFlight.set(digest, entry)
    return {
      answered: (given) => entry.settle(given),
      release: () => {
        entry.settle(null) // a duplicate still waiting gets the fallback answer
        if (this.#inFlight.get(digest) === entry) this.#inFlight.delete(digest)
      },
    }
  }
}
