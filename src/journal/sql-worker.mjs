// The journal's writer thread. It owns a connection of its own and commits the writes it is
// sent, so the fsync that synchronous=FULL requires never blocks the event loop that serves
// requests. Every batch waiting in its queue when it starts a commit joins that commit: one
// transaction and one fsync for all of them (group commit), with no pause between commits.
// It knows no table: it is sent SQL text once, then a number for it, and parameters. Plain
// JavaScript, so it loads without a TypeScript loader in development and tests (see writer.ts
// for the protocol).
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { searchText } from './search-text.mjs'

// In the single binary the addon is not in node_modules: the main thread has written it to a
// file and names it here (see src/runtime/sea-addon.ts).
const db = new Database(workerData.path, workerData.addon ? { nativeBinding: loadAddon(workerData.addon) } : {})
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')
db.pragma('foreign_keys = ON')
db.pragma(`busy_timeout = ${workerData.busyTimeoutMs}`)
// The search index's trigger calls it (migrations/009-search.sql): every connection that writes runs registers it.
db.function('hookrelay_search_text', { deterministic: true, varargs: true }, searchText)

function loadAddon(file) {
  const addon = { exports: {} }
  process.dlopen(addon, file)
  return addon.exports
}

// Statements by the number the sender gave their SQL text (sent once, with its first use). A
// text that does not prepare fails the ops that use it, and only those.
const statements = new Map()
const unprepared = new Map()
function prepare(id, sql) {
  try {
    statements.set(id, db.prepare(sql))
  } catch (err) {
    unprepared.set(id, err)
  }
}
function run([id, params]) {
  const statement = statements.get(id)
  if (!statement) throw unprepared.get(id) ?? new Error(`no statement ${id}`)
  if (Array.isArray(params)) statement.run(...params.map(bindable))
  else {
    const named = {}
    for (const key in params) named[key] = bindable(params[key])
    statement.run(named)
  }
}

// An object or list parameter is stored as JSON text: serializing here, not on the thread
// that serves requests, is part of this thread's job.
function bindable(value) {
  return value !== null && typeof value === 'object' && !(value instanceof Uint8Array) ? JSON.stringify(value) : value
}

// An op is a list of writes that succeed or fail together.
const runOps = db.transaction((batches) => {
  for (const batch of batches) for (const op of batch.ops) for (const write of op) run(write)
})
const runOp = db.transaction((op) => {
  for (const write of op) run(write)
})

// A locked, full or failing disk fails every write alike; anything else may be one bad op.
const STORAGE_FAULT = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|CORRUPT)/

function describe(err) {
  return { code: typeof err?.code === 'string' ? err.code : 'ERROR', message: String(err?.message ?? err) }
}

/** Commits batches together; on failure, each op of each batch on its own (unless the disk is at fault). */
function commit(batches) {
  if (batches.length === 0) return
  for (const batch of batches) for (const [id, sql] of batch.sqls) prepare(id, sql)
  try {
    runOps(batches)
    for (const batch of batches) parentPort.postMessage({ seq: batch.seq })
  } catch (err) {
    const ops = batches.reduce((n, b) => n + b.ops.length, 0)
    if (ops === 1 || STORAGE_FAULT.test(err?.code ?? '')) {
      for (const batch of batches) parentPort.postMessage({ seq: batch.seq, error: describe(err) })
      return
    }
    for (const batch of batches) {
      const errors = batch.ops.map((op) => {
        try {
          runOp(op)
          return null
        } catch (e) {
          return describe(e)
        }
      })
      parentPort.postMessage({ seq: batch.seq, errors })
    }
  }
}

/** A control message, handled in order with the batches around it. Returns false to stop. */
function control(message) {
  if (message.close) {
    db.close()
    parentPort.close()
    return false
  }
  // Diagnostics and fault tests: e.g. max_page_count to stand in for a full disk.
  try {
    // Every row is stepped through (incremental_vacuum frees one page per row), the first value answered.
    const [first] = db.pragma(message.pragma)
    parentPort.postMessage({ seq: message.seq, value: first ? Object.values(first)[0] : undefined })
  } catch (err) {
    parentPort.postMessage({ seq: message.seq, error: describe(err) })
  }
  return true
}

// The search index (migrations/010): runs are indexed after they commit, only while the thread
// has had nothing to do for IDLE_MS, a batch at a time, each batch in its own transaction with
// synchronous=NORMAL: no fsync at its commit (WAL stays safe from corruption in that mode, not in
// OFF), and a batch a power cut rolls back is indexed again (search_state moves with it). Under
// steady load the index waits; the search reads the runs past search_state directly
// (journal/runs.ts), so nothing is missed meanwhile.
const IDLE_MS = 25
const INDEX_BATCH = 64
/** After a failed batch (a lock another program holds, a full disk): try again this much later, not at once. */
const INDEX_RETRY_MS = 1000
const indexedUpTo = db.prepare('SELECT last_rowid FROM search_state WHERE id = 1').pluck()
const notIndexed = db.prepare('SELECT rowid, request, shown FROM runs WHERE rowid > ? ORDER BY rowid LIMIT ?')
const addToIndex = db.prepare('INSERT INTO runs_search (rowid, text) VALUES (?, ?)')
const markIndexed = db.prepare('UPDATE search_state SET last_rowid = ? WHERE id = 1')
// Read and written under one write lock (BEGIN IMMEDIATE): another writer (a CLI replay's
// thread) indexing at the same moment waits, then starts where this one ended.
const indexBatch = db.transaction(() => {
  const rows = notIndexed.all(indexedUpTo.get(), INDEX_BATCH)
  for (const row of rows) addToIndex.run(row.rowid, searchText(row.request, row.shown))
  if (rows.length > 0) markIndexed.run(rows.at(-1).rowid)
  return rows.length
})
let lastBusy = 0
let indexTimer

/** Indexes one batch if the thread is idle; goes on while there is more and it stays idle. */
function indexWhenIdle() {
  indexTimer = undefined
  if (closed) return
  const idleFor = Date.now() - lastBusy
  if (idleFor < IDLE_MS) return scheduleIndex(IDLE_MS - idleFor)
  let next
  try {
    db.pragma('synchronous = NORMAL')
    try {
      if (indexBatch.immediate() === INDEX_BATCH) next = 0 // more to do, while idle
    } finally {
      db.pragma('synchronous = FULL')
    }
  } catch {
    next = INDEX_RETRY_MS
  }
  if (next !== undefined) scheduleIndex(next)
}

function scheduleIndex(delayMs) {
  if (indexTimer === undefined && !closed) indexTimer = setTimeout(indexWhenIdle, delayMs)
}

let closed = false
parentPort.on('message', (first) => {
  let group = []
  for (let message = first; message; message = receiveMessageOnPort(parentPort)?.message) {
    if (message.ops) {
      group.push(message)
      continue
    }
    commit(group)
    group = []
    if (!control(message)) {
      closed = true
      clearTimeout(indexTimer)
      return
    }
  }
  commit(group)
  lastBusy = Date.now()
  scheduleIndex(IDLE_MS)
})

scheduleIndex(IDLE_MS) // what a previous process left unindexed

parentPort.postMessage({ ready: true })
