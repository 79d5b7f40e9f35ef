/**
 * The operator's failure letters, off the request path. A failed run's failure is written in
 * the same commit as the run's end; the first failure of a pipeline is mailed at once, later
 * ones within `min_interval` wait and go out together as one digest. Letters stay in the outbox
 * until the SMTP server takes them, retried with backoff, across restarts. Reads use the main
 * connection; every write goes through the journal's writer thread.
 */
import type { Db } from '../journal/db.js'
import type { BatchWriter, Write } from '../journal/writer.js'
import type { Log } from '../log.js'
import type { Masked, Masker } from '../secrets/masker.js'
import { composeLetter, type LetterContext } from './letters.js'
import type { Mailer } from './mailer.js'
import { LetterStore, letterWrites, type FailureSummary } from './store.js'

export interface NotifierOptions {
  to: string[]
  /** At most one letter per pipeline per this many ms (the first failure goes at once). */
  minIntervalMs: number
  letter: LetterContext
  /** First retry delay of an unsent letter (and of a pass the journal refused); doubles up to an hour. */
  retryBaseMs?: number
  /** How long one attempt to hand a letter over may take. */
  sendTimeoutMs?: number
}

const MAX_RETRY_MS = 3_600_000

export interface NotifierDeps {
  db: Db
  writer: BatchWriter
  mailer: Mailer
  masker: Masker
  log: Log
}

/** What the executor and crash recovery need: the failure's row, and a word once it is on disk. */
export interface FailureReports {
  failureWrite(summary: Masked<FailureSummary>): Write
  reported(pipeline: string): void
}

export class Notifier implements FailureReports {
  readonly #store: LetterStore
  readonly #writer: BatchWriter
  readonly #mailer: Mailer
  readonly #masker: Masker
  readonly #log: Log
  readonly #options: Required<NotifierOptions>
  /** Pipelines whose letter is being written, or waits for its interval (or for the journal). */
  readonly #waiting = new Map<string, NodeJS.Timeout | 'writing'>()
  /** Letters the SMTP server took whose sending the journal has not recorded yet: not sent again. */
  readonly #unrecorded = new Set<number>()
  #sendTimer: NodeJS.Timeout | undefined
  #sending: Promise<void> | undefined
  #started = false
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
    this.#started = true
    try {
      for (const pipeline of this.#store.pipelinesWaiting()) this.#compose(pipeline)
    } catch (err) {
      this.#log.error({ err }, 'failure letters could not be read from the journal')
    }
    this.#kick()
  }

  /** The row that queues `summary` (masked with its run's secrets) for a letter, to commit with the run's end. */
  failureWrite(summary: Masked<FailureSummary>): Write {
    return letterWrites.addFailure(summary, new Date())
  }

  /** A failure of `pipeline` is on disk: write its letter now, or when the interval ends. */
  reported(pipeline: string): void {
    this.#compose(pipeline)
  }

  /** Sends what is due, for at most `timeoutMs`; what is left stays in the outbox. Then stops. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true
    for (const timer of this.#waiting.values()) if (timer !== 'writing') clearTimeout(timer)
    clearTimeout(this.#sendTimer)
    if (!this.#started) return
    const flushed = (this.#sending ?? Promise.resolve())
      .then(() => this.#sendDue())
      .catch((err: unknown) => this.#log.error({ err }, 'failure letters could not be flushed'))
    await Promise.race([flushed, new Promise((r) => setTimeout(r, timeoutMs).unref())])
  }

  /** Writes a letter for `pipeline` now, or sets a timer for when its interval ends. */
  #compose(pipeline: string): void {
    if (this.#closed || this.#waiting.has(pipeline)) return
    let writes: Write[]
    try {
      const failures = this.#store.failuresOf(pipeline)
      if (failures.length === 0) return
      const last = this.#store.lastLetterAt(pipeline)
      const wait = last ? last.getTime() + this.#options.minIntervalMs - Date.now() : 0
      if (wait > 0) return this.#later(pipeline, wait)
      const letter = composeLetter(failures, this.#options.letter)
      writes = letterWrites.addLetter(pipeline, failures.map((f) => f.runId), letter, new Date())
    } catch (err) {
      this.#log.error({ err, pipeline }, 'failure letter could not be composed; will retry')
      return this.#later(pipeline, this.#options.retryBaseMs)
    }

    // The letter and the removal of what it reports commit together; until then no second
    // letter is composed for this pipeline, so none reports the same failures twice.
    this.#waiting.set(pipeline, 'writing')
    this.#writer.write(...writes).then(
      () => {
        this.#waiting.delete(pipeline)
        this.#kick()
        this.#compose(pipeline) // failures that came meanwhile wait for the next interval
      },
      (err: unknown) => {
        this.#waiting.delete(pipeline)
        this.#log.error({ err, pipeline }, 'failure letter could not be written; will retry')
        this.#later(pipeline, this.#options.retryBaseMs)
      },
    )
  }

  #later(pipeline: string, ms: number): void {
    if (this.#closed) return
    const timer = setTimeout(() => {
      this.#waiting.delete(pipeline)
      this.#compose(pipeline)
    }, ms)
    timer.unref()
    this.#waiting.set(pipeline, timer)
  }

  /** Starts a sending pass unless one is running. */
  #kick(): void {
    if (this.#closed || this.#sending) return
    this.#sending = this.#sendDue().then(
      () => {
        this.#sending = undefined
        this.#schedule()
      },
      (err: unknown) => {
        // The journal refused a read or a write: try the whole pass again later, not at once.
        this.#sending = undefined
        this.#log.error({ err }, 'failure letters could not be sent or recorded; will retry')
        this.#wakeIn(this.#options.retryBaseMs)
      },
    )
  }

  /** Sends each due letter and records how it went; stops at the first error of the journal. */
  async #sendDue(): Promise<void> {
    for (let letter = this.#store.nextDue(new Date()); letter; letter = this.#store.nextDue(new Date())) {
      if (this.#unrecorded.has(letter.id)) {
        await this.#writer.write(letterWrites.markSent(letter.id, new Date()))
        this.#unrecorded.delete(letter.id)
        continue
      }
      let outcome: Write
      let sent = true
      try {
        await this.#mailer.send(this.#letter(letter), this.#options.sendTimeoutMs)
        this.#unrecorded.add(letter.id)
        outcome = letterWrites.markSent(letter.id, new Date())
        this.#log.info({ letter: letter.id, pipeline: letter.pipeline }, 'failure letter sent')
      } catch (err) {
        sent = false
        const delay = Math.min(MAX_RETRY_MS, this.#options.retryBaseMs * 2 ** letter.attempts) * (0.75 + Math.random() / 2)
        outcome = letterWrites.markFailed(letter.id, this.#masker.message(err), new Date(Date.now() + delay))
        this.#log.warn({ letter: letter.id, pipeline: letter.pipeline, err: this.#masker.message(err), retryInMs: Math.round(delay) }, 'failure letter not sent; will retry')
      }
      // If this write fails after a letter went out, the next pass only records it; only a
      // restart before that would send it again.
      await this.#writer.write(outcome)
      this.#unrecorded.delete(letter.id)
      if (!sent && this.#closed) return
    }
  }

  /** A letter as it goes out: its every word through the masker. */
  #letter(letter: { subject: string; body: string }): { to: string[]; subject: Masked<string>; text: Masked<string> } {
    return { to: this.#options.to, subject: this.#masker.text(letter.subject), text: this.#masker.text(letter.body) }
  }

  /** Wakes up when the next unsent letter is due. */
  #schedule(): void {
    let next: Date | undefined
    try {
      next = this.#store.nextDueAt()
    } catch (err) {
      this.#log.error({ err }, 'failure letters could not be read from the journal; will retry')
      return this.#wakeIn(this.#options.retryBaseMs)
    }
    if (next) this.#wakeIn(next.getTime() - Date.now())
  }

  #wakeIn(ms: number): void {
    clearTimeout(this.#sendTimer)
    if (this.#closed) return
    this.#sendTimer = setTimeout(() => this.#kick(), Math.max(0, ms))
    this.#sendTimer.unref()
  }
}
