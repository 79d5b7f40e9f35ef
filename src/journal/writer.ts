/**
 * Group commit: every write asked for during one turn of the event loop goes into a single
 * transaction, so concurrent requests share one fsync. A request that must be durable before
 * it goes on awaits `write()`, which settles only once its batch is on disk.
 */
import type { Log } from '../log.js'
import type { Db } from './db.js'

type Op = () => void

interface Pending {
  op: Op
  done?: { resolve: () => void; reject: (err: unknown) => void }
}

export class BatchWriter {
  readonly #db: Db
  readonly #log: Log
  #queue: Pending[] = []
  #scheduled = false

  constructor(db: Db, log: Log) {
    this.#db = db
    this.#log = log
  }

  /** Runs `op` in the next batch; resolves once that batch has committed. */
  write(op: Op): Promise<void> {
    return new Promise((resolve, reject) => this.#push({ op, done: { resolve, reject } }))
  }

  /** Runs `op` in the next batch without waiting; a failure is logged. */
  enqueue(op: Op): void {
    this.#push({ op })
  }

  /** Commits whatever is queued now, synchronously (used at shutdown). */
  flush(): void {
    const batch = this.#queue
    this.#queue = []
    this.#scheduled = false
    if (batch.length === 0) return
    try {
      this.#db.transaction(() => {
        for (const p of batch) p.op()
      })()
      for (const p of batch) p.done?.resolve()
    } catch (err) {
      // A locked, full or failing disk fails every write alike: fail the batch at once.
      // Anything else may be one bad write, which must not sink its neighbours: retry alone.
      if (batch.length === 1 || isStorageFault(err)) for (const p of batch) this.#settleFailed(p, err)
      else for (const p of batch) this.#runAlone(p)
    }
  }

  get pending(): number {
    return this.#queue.length
  }

  #push(p: Pending): void {
    this.#queue.push(p)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.flush())
    }
  }

  #runAlone(p: Pending): void {
    try {
      this.#db.transaction(p.op)()
      p.done?.resolve()
    } catch (err) {
      this.#settleFailed(p, err)
    }
  }

  #settleFailed(p: Pending, err: unknown): void {
    if (p.done) p.done.reject(err)
    else this.#log.error({ err }, 'journal write failed')
  }
}

function isStorageFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|CORRUPT)/.test(code)
}
