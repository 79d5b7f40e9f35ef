/**
 * The operator's failure letters, off the request path. A failed run is written down at once
 * (durably); the first failure of a pipeline is mailed at once, later ones within
 * `min_interval` wait and go out together as one digest. Letters stay in the outbox until the
 * SMTP server takes them, retried with backoff, across restarts.
 */
import type { Db } from '../journal/db.js'
import type { BatchWriter } from '../journal/writer.js'
import type { Log } from '../log.js'
import type { Masker } from '../mask.js'
import { composeLetter, type LetterContext } from './letters.js'
import type { Mailer } from './mailer.js'
import { LetterStore, type FailureSummary } from './store.js'

export interface NotifierOptions {
  to: string[]
  /** At most one letter per pipeline per this many ms (the first failure goes at once). */
  minIntervalMs: number
  letter: LetterContext
  /** First retry delay of an unsent letter; doubles up to an hour. */
  retryBaseMs?: number
  /** How long one attempt to hand a letter over may take. */
  sendTimeoutMs?: number
}

const MAX_RETRY_MS = 3_600_000

export interface NotifierDeps {
  db: Db
  /** The journal's writer: a failure is written in the same batch as its run's end. */
  writer: BatchWriter
  mailer: Mailer
  masker: Masker
  log: Log
}

export class Notifier {
  readonly #store: LetterStore
  readonly #writer: BatchWriter
  readonly #mailer: Mailer
  readonly #masker: Masker
  readonly #log: Log
  readonly #options: Required<NotifierOptions>
  readonly #waiting = new Map<string, NodeJS.Timeout>()
  #sendTimer: NodeJS.Timeout | undefined
  #sending: Promise<void> | undefined
  #closed = false

  constructor(deps: NotifierDeps, options: NotifierOptions) {
    this.#store = new LetterStore(deps.db)
    this.#writer = deps.writer
    this.#mailer = deps.mailer
    this.#masker = deps.masker
    this.#log = deps.log
    this.#options = { retryBaseMs: 30_000, sendTimeoutMs: 10_000, ...options }
  }

  /** Picks up what a previous process left: failures not yet in a letter, letters not yet sent. */
  start(): void {
    for (const pipeline of this.#store.pipelinesWaiting()) this.#compose(pipeline)
    this.#kick()
  }

  /** Reports a failed or interrupted run; returns at once and never throws. */
  report(summary: FailureSummary): void {
    const failure = this.#masker.value(summary)
    this.#writer
      .write(LetterStore.addFailure(failure, new Date()))
      .then(() => {
        if (!this.#closed) this.#compose(summary.pipeline)
      })
      .catch((err: unknown) => this.#log.error({ err, runId: summary.runId }, 'failure letter could not be queued'))
  }

  /** Sends what is due, for at most `timeoutMs`; what is left stays in the outbox. Then stops. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true
    for (const timer of this.#waiting.values()) clearTimeout(timer)
    clearTimeout(this.#sendTimer)
    const flushed = (this.#sending ?? Promise.resolve()).then(() => this.#sendDue())
    await Promise.race([flushed, new Promise((r) => setTimeout(r, timeoutMs).unref())])
  }

  /** Writes a letter for `pipeline` now, or sets a timer for when its interval ends. */
  #compose(pipeline: string): void {
    if (this.#waiting.has(pipeline)) return
    const last = this.#store.lastLetterAt(pipeline)
    const due = last ? last.getTime() + this.#options.minIntervalMs : 0
    const now = Date.now()
    if (due > now) {
      const timer = setTimeout(() => {
        this.#waiting.delete(pipeline)
        this.#compose(pipeline)
      }, due - now)
      timer.unref()
      this.#waiting.set(pipeline, timer)
      return
    }
    if (this.#store.composeLetter(pipeline, new Date(now), (failures) => composeLetter(failures, this.#options.letter))) this.#kick()
  }

  /** Starts a sending pass unless one is running. */
  #kick(): void {
    if (this.#closed || this.#sending) return
    this.#sending = this.#sendDue().finally(() => {
      this.#sending = undefined
      this.#schedule()
    })
  }

  async #sendDue(): Promise<void> {
    for (let letter = this.#store.nextDue(new Date()); letter; letter = this.#store.nextDue(new Date())) {
      try {
        await this.#mailer.send({ to: this.#options.to, subject: letter.subject, text: this.#masker.text(letter.body) }, this.#options.sendTimeoutMs)
        this.#store.markSent(letter.id, new Date())
        this.#log.info({ letter: letter.id, pipeline: letter.pipeline }, 'failure letter sent')
      } catch (err) {
        const delay = Math.min(MAX_RETRY_MS, this.#options.retryBaseMs * 2 ** letter.attempts) * (0.75 + Math.random() / 2)
        this.#store.markFailed(letter.id, this.#masker.message(err), new Date(Date.now() + delay))
        this.#log.warn({ letter: letter.id, pipeline: letter.pipeline, err: this.#masker.message(err), retryInMs: Math.round(delay) }, 'failure letter not sent; will retry')
        if (this.#closed) return
      }
    }
  }

  /** Wakes up when the next unsent letter is due. */
  #schedule(): void {
    clearTimeout(this.#sendTimer)
    const next = this.#store.nextDueAt()
    if (this.#closed || !next) return
    this.#sendTimer = setTimeout(() => this.#kick(), Math.max(0, next.getTime() - Date.now()))
    this.#sendTimer.unref()
  }
}
