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
import { sqlWorker } from '../runtime/assets.js'
import type { Db } from './db.js'

/**
 * One SQL statement and its parameters (named in an object, or positional in a list). A
 * parameter that is an object or a list is stored as its JSON text, serialized by the thread.
 */
export type Write = readonly [sql: string, params: Record<string, unknown> | readonly unknown[]]

/**
 * Runs `write` on `db` in the calling thread, binding parameters as the writer thread does. Only
 * for start-up work done before the server listens (crash recovery), inside its transaction.
 */
export function runNow(db: Db, [sql, params]: Write): void {
  const statement = db.prepare(sql)
  if (Array.isArray(params)) statement.run(...(params as unknown[]).map(bindable))
  else statement.run(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, bindable(v)])))
}

/** An object or list parameter is stored as its JSON text (the same rule as sql-worker.mjs). */
function bindable(value: unknown): unknown {
  return value !== null && typeof value === 'object' && !(value instanceof Uint8Array) ? JSON.stringify(value) : value
}

interface Pending {
  op: readonly Write[]
  /** Roughly what it holds in memory (see roughBytes), for the bound on work waiting. */
  bytes: number
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
  /** The bound on work waiting (queued, or sent to the thread and not yet committed): see hasRoom(). */
  maxPendingOps?: number
  maxPendingBytes?: number
  /** Called once when the thread has died and cannot be started again (never after close()). */
  onGone?: (err: Error) => void
  /** Called with how long each batch took from being sent to the thread to its commit, in ms (metrics). */
  onCommit?: (ms: number) => void
}

/**
 * Defaults for the bound: far above what a healthy disk leaves waiting (a few hundred writes
 * at thousands of requests a second), low enough that a stalled disk cannot grow the heap
 * past a small VPS's memory (each entry is also copied once for the thread).
 */
export const MAX_PENDING_OPS = 10_000
export const MAX_PENDING_BYTES = 32 * 1024 * 1024

/** Writes queued in one turn of the event loop that are sent to the thread without waiting for the turn's end. */
const SEND_AT = 16

/** A writer thread that dies is started again, but at most this often (a broken file would loop). */
const MAX_RESTARTS = 3
const RESTART_WINDOW_MS = 60_000

export class BatchWriter {
  readonly #workerData: { path: string; busyTimeoutMs: number }
  readonly #log: Log
  #worker: Worker
  readonly #limits: { ops: number; bytes: number }
  readonly #onGone: ((err: Error) => void) | undefined
  readonly #onCommit: ((ms: number) => void) | undefined
  /** When each batch in flight was sent, by its sequence number. */
  readonly #sentAt = new Map<number, number>()
  #queue: Pending[] = []
  readonly #inFlight = new Map<number, Pending[]>()
  #inFlightOps = 0
  #pendingBytes = 0
  /** Whether hasRoom() last said no (its log line is written on the change only). */
  #full = false
  #everReady = false
  #scheduled = false
  #seq = 0
  #closing = false
  #exited = false
  #restarts: number[] = []
  #idle: Array<() => void> = []
  readonly #pragmas = new Map<number, (reply: Reply) => void>()
  #pragmaSeq = 0 // negative, apart from the batches' positive sequence
  /** Each distinct SQL text gets a number; the thread is sent the text once. */
  readonly #sqlIds = new Map<string, number>()

  /** Starts the writer thread on the (already migrated) journal file. */
  static async open(path: string, log: Log, options: WriterOptions = {}): Promise<BatchWriter> {
    const writer = new BatchWriter({ path, busyTimeoutMs: options.busyTimeoutMs ?? 1000 }, log, options)
    await new Promise<void>((resolve, reject) => {
      writer.#worker.once('message', () => resolve())
      writer.#worker.once('error', reject)
    })
    return writer
  }

  private constructor(workerData: { path: string; busyTimeoutMs: number }, log: Log, options: WriterOptions) {
    this.#workerData = workerData
    this.#log = log
    this.#limits = { ops: options.maxPendingOps ?? MAX_PENDING_OPS, bytes: options.maxPendingBytes ?? MAX_PENDING_BYTES }
    this.#onGone = options.onGone
    this.#onCommit = options.onCommit
    this.#worker = this.#spawn()
  }

  #spawn(): Worker {
    const start = sqlWorker()
    const worker = new Worker(start.script, {
      eval: start.eval,
      workerData: { ...this.#workerData, addon: start.addon },
      // It only binds parameters and runs statements: a small young generation is plenty.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    })
    let ready = false
    worker.on('message', (reply: Reply | { ready: true }) => {
      if ('ready' in reply) ready = this.#everReady = true
      else this.#settle(reply)
    })
    worker.on('error', (err) => this.#log.error({ err }, 'the journal writer failed'))
    worker.on('exit', () => this.#exit(ready))
    this.#sqlIds.clear() // a new thread knows no statement yet
    return worker
  }

  /**
   * The thread stopped. Writes it had been sent fail (whether they committed is unknown); when
   * it stopped unasked after it had started, a new one takes the queue, within a budget.
   */
  #exit(wasReady: boolean): void {
    const stopped = new Error('the journal writer stopped')
    const inFlight = [...this.#inFlight.values()].flat()
    this.#inFlight.clear()
    this.#sentAt.clear()
    this.#inFlightOps = 0
    for (const p of inFlight) this.#settleOne(p, stopped)
    this.#pendingBytes = this.#queue.reduce((n, p) => n + p.bytes, 0)
    for (const settle of this.#pragmas.values()) settle({ seq: 0, error: { code: 'ERROR', message: stopped.message } })
    this.#pragmas.clear()

    const now = Date.now()
    this.#restarts = this.#restarts.filter((at) => now - at < RESTART_WINDOW_MS)
    if (!this.#closing && wasReady && this.#restarts.length < MAX_RESTARTS) {
      this.#restarts.push(now)
      this.#log.error({ restarts: this.#restarts.length }, 'the journal writer stopped unexpectedly; starting a new one')
      this.#worker = this.#spawn()
      this.#send()
    } else {
      this.#exited = true
      const queued = this.#queue
      this.#queue = []
      this.#pendingBytes = 0
      for (const p of queued) this.#settleOne(p, stopped)
      if (!this.#closing && this.#everReady) {
        const why = wasReady ? `it stopped ${MAX_RESTARTS + 1} times within a minute` : 'a new one could not open the journal'
        this.#onGone?.(new Error(`the journal writer stopped and is not started again: ${why}`))
      }
    }
    if (this.pending === 0) for (const resolve of this.#idle.splice(0)) resolve()
  }

  /** Runs `writes` together in the next batch; resolves once that batch has committed. */
  write(...writes: Write[]): Promise<void> {
    return new Promise((resolve, reject) => this.#push({ op: writes, bytes: roughBytes(writes), done: { resolve, reject } }))
  }

  /** Runs `writes` in the next batch without waiting; a failure is logged. */
  enqueue(...writes: Write[]): void {
    this.#push({ op: writes, bytes: roughBytes(writes) })
  }

  /**
   * Whether new work should be taken: false while the writes waiting reach the bound (a stalled
   * or slow disk). Writes are never refused here; the callers that start new work (a new run)
   * ask first, so what is already under way can always finish. The change is logged.
   */
  hasRoom(): boolean {
    const room = this.pending < this.#limits.ops && this.#pendingBytes < this.#limits.bytes
    if (room === this.#full) {
      // It changed: full now, or room again.
      this.#full = !room
      const waiting = { writes: this.pending, megabytes: Math.round(this.#pendingBytes / 1048576) }
      if (room) this.#log.warn(waiting, 'the journal caught up; new requests are taken again')
      else this.#log.error(waiting, 'the journal cannot keep up with the disk: new requests get 503 until it catches up (is the disk slow, full, or locked by another program?)')
    }
    return room
  }

  /** What the work waiting holds, roughly (see roughBytes). */
  get pendingBytes(): number {
    return this.#pendingBytes
  }

  /** Runs a pragma on the writer's connection (diagnostics; fault tests use max_page_count). */
  pragma(text: string): Promise<unknown> {
    if (this.#exited) return Promise.reject(new Error('the journal writer stopped'))
    const seq = --this.#pragmaSeq
    return new Promise((resolve, reject) => {
      this.#pragmas.set(seq, (reply) => (reply.error ? reject(Object.assign(new Error(reply.error.message), { code: reply.error.code })) : resolve(reply.value)))
      this.#worker.postMessage({ seq, pragma: text })
    })
  }

  /** Stops the thread the way a crash would (fault tests): what it was sent fails, a new one starts. */
  async crashThread(): Promise<void> {
    await this.#worker.terminate()
  }

  get pending(): number {
    return this.#queue.length + this.#inFlightOps
  }

  /** Commits what is queued, then stops the thread (which closes its connection). */
  async close(): Promise<void> {
    while (this.pending > 0 && !this.#exited) await new Promise<void>((resolve) => this.#idle.push(resolve))
    if (this.#exited) return
    this.#closing = true
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
    this.#pendingBytes += p.bytes
    // A busy turn of the event loop reads many requests: the first of them would wait for the
    // last before their batch left. Every SEND_AT writes go at once, so the thread commits them
    // while the loop reads on (bench/RESULTS-levers.md); the rest go at the end of the turn.
    if (this.#queue.length >= SEND_AT) this.#send()
    else this.#schedule()
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
    if (this.#onCommit) this.#sentAt.set(seq, performance.now())
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
    const sentAt = this.#sentAt.get(reply.seq)
    if (sentAt !== undefined) {
      this.#sentAt.delete(reply.seq)
      if (!reply.error) this.#onCommit?.(performance.now() - sentAt)
    }
    batch.forEach((p, i) => {
      this.#pendingBytes -= p.bytes
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
}

/**
 * About how much memory a write holds: the lengths of its strings and byte arrays, walked a
 * few levels deep, plus a little per value. Cheap, and close enough for a bound whose point is
 * a request body of up to a megabyte.
 */
export function roughBytes(value: unknown, depth = 0): number {
  if (typeof value === 'string') return value.length + 8
  if (value === null || typeof value !== 'object') return 8
  if (value instanceof Uint8Array) return value.byteLength + 8
  if (depth > 8) return 64
  let bytes = 16
  if (Array.isArray(value)) for (const item of value) bytes += roughBytes(item, depth + 1)
  else for (const key in value) bytes += key.length + roughBytes((value as Record<string, unknown>)[key], depth + 1)
  return bytes
}
