/**
 * Group commit on a writer thread. The writes asked for during one turn of the event loop go to
 * the thread as one batch; the thread commits every batch waiting for it in one transaction and
 * one fsync. A request that must be durable before it goes on awaits `write()`, which settles
 * only once its batch is on disk; meanwhile the event loop keeps serving. Protocol with
 * sql-worker.mjs: {seq, sqls: [[id, sql]], ops: [[[id, params]]]} -> {seq} | {seq, error} |
 * {seq, errors}; and {seq, pragma} -> {seq, value}, {close: true}.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import type { Log } from '../log.js'

/**
 * One SQL statement and its parameters (named in an object, or positional in a list). A
 * parameter that is an object or a list is stored as its JSON text, serialized by the thread.
 */
export type Write = readonly [sql: string, params: Record<string, unknown> | readonly unknown[]]

interface Pending {
  op: readonly Write[]
  done?: { resolve: () => void; reject: (err: unknown) => void }
}

interface Reply {
  seq: number
  error?: { code: string; message: string }
  errors?: Array<{ code: string; message: string } | null>
  value?: unknown
}

export interface WriterOptions {
  /** How long a batch waits for another connection's lock before failing (SQLITE_BUSY). */
  busyTimeoutMs?: number
}

export class BatchWriter {
  readonly #worker: Worker
  readonly #log: Log
  #queue: Pending[] = []
  readonly #inFlight = new Map<number, Pending[]>()
  #inFlightOps = 0
  #scheduled = false
  #seq = 0
  #exited = false
  #idle: Array<() => void> = []
  readonly #pragmas = new Map<number, (reply: Reply) => void>()
  #pragmaSeq = 0 // negative, apart from the batches' positive sequence
  /** Each distinct SQL text gets a number; the thread is sent the text once. */
  readonly #sqlIds = new Map<string, number>()

  /** Starts the writer thread on the (already migrated) journal file. */
  static async open(path: string, log: Log, options: WriterOptions = {}): Promise<BatchWriter> {
    const worker = new Worker(new URL('./sql-worker.mjs', import.meta.url), {
      workerData: { path, busyTimeoutMs: options.busyTimeoutMs ?? 1000 },
      // It only binds parameters and runs statements: a small young generation is plenty.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    })
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve())
      worker.once('error', reject)
    })
    return new BatchWriter(worker, log)
  }

  private constructor(worker: Worker, log: Log) {
    this.#worker = worker
    this.#log = log
    worker.on('message', (reply: Reply) => this.#settle(reply))
    worker.on('error', (err) => this.#fail(err))
    worker.on('exit', () => {
      this.#exited = true
      this.#fail(new Error('the journal writer stopped'))
    })
  }

  /** Runs `writes` together in the next batch; resolves once that batch has committed. */
  write(...writes: Write[]): Promise<void> {
    return new Promise((resolve, reject) => this.#push({ op: writes, done: { resolve, reject } }))
  }

  /** Runs `writes` in the next batch without waiting; a failure is logged. */
  enqueue(...writes: Write[]): void {
    this.#push({ op: writes })
  }

  /** Runs a pragma on the writer's connection (diagnostics; fault tests use max_page_count). */
  pragma(text: string): Promise<unknown> {
    const seq = --this.#pragmaSeq
    return new Promise((resolve, reject) => {
      this.#pragmas.set(seq, (reply) => (reply.error ? reject(Object.assign(new Error(reply.error.message), { code: reply.error.code })) : resolve(reply.value)))
      this.#worker.postMessage({ seq, pragma: text })
    })
  }

  get pending(): number {
    return this.#queue.length + this.#inFlightOps
  }

  /** Commits what is queued, then stops the thread (which closes its connection). */
  async close(): Promise<void> {
    while (this.pending > 0 && !this.#exited) await new Promise<void>((resolve) => this.#idle.push(resolve))
    if (this.#exited) return
    const exited = new Promise((resolve) => this.#worker.once('exit', resolve))
    this.#worker.postMessage({ close: true })
    await exited
  }

  #push(p: Pending): void {
    if (this.#exited) {
      this.#settleOne(p, new Error('the journal writer stopped'))
      return
    }
    this.#queue.push(p)
    this.#schedule()
  }

  /** Sends the queue at the end of this turn. */
  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    void nextTurn().then(() => {
      this.#scheduled = false
      this.#send()
    })
  }

  #send(): void {
    if (this.#queue.length === 0) return
    const batch = this.#queue
    this.#queue = []
    const seq = ++this.#seq
    this.#inFlight.set(seq, batch)
    this.#inFlightOps += batch.length
    const sqls: Array<[number, string]> = []
    const ops = batch.map((p) =>
      p.op.map(([sql, params]) => {
        let id = this.#sqlIds.get(sql)
        if (id === undefined) {
          id = this.#sqlIds.size
          this.#sqlIds.set(sql, id)
          sqls.push([id, sql])
        }
        return [id, params]
      }),
    )
    this.#worker.postMessage({ seq, sqls, ops })
  }

  #settle(reply: Reply): void {
    const pragma = reply.seq < 0 ? this.#pragmas.get(reply.seq) : undefined
    if (pragma) {
      this.#pragmas.delete(reply.seq)
      return pragma(reply)
    }
    const batch = this.#inFlight.get(reply.seq)
    if (!batch) return
    this.#inFlight.delete(reply.seq)
    this.#inFlightOps -= batch.length
    batch.forEach((p, i) => {
      const err = reply.error ?? reply.errors?.[i]
      this.#settleOne(p, err ? Object.assign(new Error(err.message), { code: err.code }) : undefined)
    })
    if (this.pending === 0) for (const resolve of this.#idle.splice(0)) resolve()
  }

  #settleOne(p: Pending, err: unknown): void {
    if (!err) p.done?.resolve()
    else if (p.done) p.done.reject(err)
    else this.#log.error({ err }, 'journal write failed')
  }

  #fail(err: unknown): void {
    for (const p of [...[...this.#inFlight.values()].flat(), ...this.#queue]) this.#settleOne(p, err)
    this.#inFlight.clear()
    this.#inFlightOps = 0
    this.#queue = []
    for (const resolve of this.#idle.splice(0)) resolve()
  }
}
