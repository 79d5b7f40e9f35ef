/**
 * Retention: runs older than `journal.retention_days` are deleted at start and every hour.
 *
 * - The deletes go through the writer thread, like every other write: a lock held by another
 *   program delays them there (and fails them after the busy timeout), never the event loop.
 *   They go in small batches (a batch that took too long halves the next), and the freed pages
 *   are given back to the file system (incremental vacuum), also on the writer thread.
 * - A run still `running`, waiting for its failure letter, or reported in a letter not yet sent
 *   is never deleted, however old its id says it is.
 * - "Now" is a SteadyClock: a system clock set ahead while the server runs is not believed, so
 *   a jump forward does not delete a month of runs at once.
 */
import type { Log } from '../log.js'
import type { Db } from './db.js'
import type { BatchWriter } from './writer.js'

export interface PruneResult {
  deleted: number
  batches: number
  /** The longest single batch, in ms, from asking the writer thread to its commit. */
  maxBatchMs: number
  vacuumedPages: number
}

export interface PrunerOptions {
  retentionDays: number
  batchSize?: number
  /** A batch longer than this halves the next one. */
  batchBudgetMs?: number
  /** Where "now" comes from (tests set the wall clock ahead). */
  clock?: SteadyClock
}

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
const VACUUM_PAGES = 256

/** The smallest UUIDv7 of a millisecond: run ids below it were received before it. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`
}

/**
 * The wall clock, except that it never runs ahead of the monotonic clock: after a jump forward
 * it keeps counting from where it was; a jump back is believed (deleting less is safe). So
 * `now()` is at most the earliest wall time seen, plus the monotonic time since then.
 */
export class SteadyClock {
  readonly #wall: () => number
  readonly #monotonic: () => number
  /** The smallest (wall - monotonic) seen. */
  #offset: number

  constructor(wall: () => number = Date.now, monotonic: () => number = () => performance.now()) {
    this.#wall = wall
    this.#monotonic = monotonic
    this.#offset = wall() - monotonic()
  }

  now(): number {
    const monotonic = this.#monotonic()
    this.#offset = Math.min(this.#offset, this.#wall() - monotonic)
    return this.#offset + monotonic
  }

  /** How far the wall clock is ahead of now(), in ms (0 when it agrees). */
  ahead(): number {
    return this.#wall() - this.now()
  }
}

/** Runs that may go: not running, not waiting for a letter, not in a letter waiting to be sent. */
const DELETABLE = `status != 'running'
  AND NOT EXISTS (SELECT 1 FROM failures WHERE failures.run_id = runs.id)
  AND id NOT IN (SELECT value FROM letters, json_each(letters.run_ids) WHERE letters.sent_at IS NULL)`
/** Re-checked by the delete itself: what changed between choosing and deleting is kept. */
const DELETE_RUNS = `DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?)) AND ${DELETABLE}`
const DELETE_LETTERS = 'DELETE FROM letters WHERE sent_at IS NOT NULL AND created_at < ?'

export class Pruner {
  readonly #writer: BatchWriter
  readonly #log: Log
  readonly #options: Required<Omit<PrunerOptions, 'clock'>>
  readonly #clock: SteadyClock
  readonly #choose
  #timer: NodeJS.Timeout | undefined
  #running: Promise<PruneResult> | undefined
  #stopping = false

  /** `db` is a reading connection (choosing what to delete); `writer` deletes. */
  constructor(db: Db, writer: BatchWriter, log: Log, options: PrunerOptions) {
    this.#writer = writer
    this.#log = log
    this.#options = { batchSize: 500, batchBudgetMs: 20, ...options }
    this.#clock = options.clock ?? new SteadyClock()
    this.#choose = db.prepare(`SELECT id FROM runs WHERE id > ? AND id < ? AND ${DELETABLE} ORDER BY id LIMIT ?`).pluck()
  }

  /** Prunes now and then every `intervalMs`; failures are logged, never thrown. */
  start(intervalMs = HOUR_MS): void {
    const run = () => {
      this.prune().catch((err: unknown) => this.#log.error({ err }, 'pruning the journal failed; it is tried again in an hour'))
    }
    run()
    this.#timer = setInterval(run, intervalMs)
    this.#timer.unref()
  }

  /** Stops the hourly pruning; a pass under way ends after its current batch (the next pass goes on from there). */
  async stop(): Promise<void> {
    this.#stopping = true
    clearInterval(this.#timer)
    await this.#running?.catch(() => undefined)
  }

  prune(): Promise<PruneResult> {
    this.#running ??= this.#prune().finally(() => (this.#running = undefined))
    return this.#running
  }

  async #prune(): Promise<PruneResult> {
    const ahead = this.#clock.ahead()
    if (ahead > HOUR_MS) {
      this.#log.warn({ hoursAhead: Math.round(ahead / HOUR_MS) }, 'the system clock jumped ahead while hookrelay ran; retention counts from the time before the jump (restart hookrelay if the new time is right)')
    }
    const cutoffMs = this.#clock.now() - this.#options.retentionDays * DAY_MS
    const cutoff = uuidv7Floor(cutoffMs)
    const result: PruneResult = { deleted: 0, batches: 0, maxBatchMs: 0, vacuumedPages: 0 }
    let size = this.#options.batchSize
    let after = ''
    while (!this.#stopping) {
      const ids = this.#choose.all(after, cutoff, size) as string[]
      if (ids.length === 0) break
      after = ids.at(-1)!
      const started = performance.now()
      await this.#writer.write([DELETE_RUNS, [ids]])
      const took = performance.now() - started
      result.batches++
      result.deleted += ids.length
      result.maxBatchMs = Math.max(result.maxBatchMs, took)
      if (ids.length < size) break
      if (took > this.#options.batchBudgetMs && size > 10) size = Math.floor(size / 2)
    }
    if (this.#stopping) return result
    await this.#writer.write([DELETE_LETTERS, [new Date(cutoffMs).toISOString()]])
    const freePages = async () => (await this.#writer.pragma('freelist_count')) as number
    for (let free = await freePages(); free > 0 && !this.#stopping; ) {
      await this.#writer.pragma(`incremental_vacuum(${VACUUM_PAGES})`)
      const left = await freePages()
      result.vacuumedPages += free - left
      if (left >= free) break // not an incremental-vacuum file: nothing more to give back
      free = left
    }
    if (result.deleted > 0) this.#log.info({ ...result, maxBatchMs: Math.round(result.maxBatchMs) }, 'journal pruned')
    return result
  }
}
