/**
 * Retention: runs older than `journal.retention_days` are deleted at start and every hour, in
 * small batches that yield to the event loop between them (a batch that took too long halves
 * the next), and the freed pages are given back to the file system (incremental vacuum).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Log } from '../log.js'
import type { Db } from './db.js'

export interface PruneResult {
  deleted: number
  batches: number
  /** The longest single batch, in ms: the longest the event loop was held. */
  maxBatchMs: number
  vacuumedPages: number
}

export interface PrunerOptions {
  retentionDays: number
  batchSize?: number
  /** A batch longer than this halves the next one. */
  batchBudgetMs?: number
}

const DAY_MS = 86_400_000
const VACUUM_PAGES = 256

/** The smallest UUIDv7 of a millisecond: run ids below it were received before it. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`
}

export class Pruner {
  readonly #db: Db
  readonly #log: Log
  readonly #options: Required<PrunerOptions>
  readonly #deleteRuns
  readonly #deleteLetters
  #timer: NodeJS.Timeout | undefined
  #running: Promise<PruneResult> | undefined

  constructor(db: Db, log: Log, options: PrunerOptions) {
    this.#db = db
    this.#log = log
    this.#options = { batchSize: 500, batchBudgetMs: 20, ...options }
    this.#deleteRuns = db.prepare('DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE id < ? ORDER BY id LIMIT ?)')
    this.#deleteLetters = db.prepare('DELETE FROM letters WHERE sent_at IS NOT NULL AND created_at < ?')
  }

  /** Prunes now and then every `intervalMs`; failures are logged, never thrown. */
  start(intervalMs = 3_600_000): void {
    const run = () => {
      this.prune().catch((err: unknown) => this.#log.error({ err }, 'pruning the journal failed'))
    }
    run()
    this.#timer = setInterval(run, intervalMs)
    this.#timer.unref()
  }

  /** Stops the hourly pruning and waits for a pass under way. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#running?.catch(() => undefined)
  }

  prune(now = new Date()): Promise<PruneResult> {
    this.#running ??= this.#prune(now).finally(() => (this.#running = undefined))
    return this.#running
  }

  async #prune(now: Date): Promise<PruneResult> {
    const cutoffMs = now.getTime() - this.#options.retentionDays * DAY_MS
    const cutoff = uuidv7Floor(cutoffMs)
    const result: PruneResult = { deleted: 0, batches: 0, maxBatchMs: 0, vacuumedPages: 0 }
    let size = this.#options.batchSize
    for (;;) {
      const started = performance.now()
      const deleted = this.#deleteRuns.run(cutoff, size).changes
      const took = performance.now() - started
      result.batches++
      result.deleted += deleted
      result.maxBatchMs = Math.max(result.maxBatchMs, took)
      if (deleted < size) break
      if (took > this.#options.batchBudgetMs && size > 10) size = Math.floor(size / 2)
      await yieldToLoop()
    }
    this.#deleteLetters.run(new Date(cutoffMs).toISOString())
    const freePages = () => this.#db.pragma('freelist_count', { simple: true }) as number
    for (let free = freePages(); free > 0; ) {
      const started = performance.now()
      this.#db.pragma(`incremental_vacuum(${VACUUM_PAGES})`)
      result.maxBatchMs = Math.max(result.maxBatchMs, performance.now() - started)
      const left = freePages()
      result.vacuumedPages += free - left
      if (left >= free) break // not an incremental-vacuum file: nothing more to give back
      free = left
      await yieldToLoop()
    }
    if (result.deleted > 0) this.#log.info({ ...result, maxBatchMs: Math.round(result.maxBatchMs) }, 'journal pruned')
    return result
  }
}
