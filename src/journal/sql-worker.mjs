// The journal's writer thread. It owns a connection of its own and runs each batch of writes it
// is sent as one transaction, so the fsync that synchronous=FULL requires never blocks the event
// loop that serves requests. It knows no table: it is sent SQL text once, then a number for it
// and parameters, and keeps a prepared statement per text. Plain JavaScript, so it loads without a TypeScript
// loader in development and tests (see writer.ts for the protocol).
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

const db = new Database(workerData.path)
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')
db.pragma('foreign_keys = ON')
db.pragma(`busy_timeout = ${workerData.busyTimeoutMs}`)

// Statements by the number the sender gave their SQL text (sent once, with its first use).
const statements = new Map()
function run([id, params]) {
  const statement = statements.get(id)
  if (Array.isArray(params)) statement.run(...params)
  else statement.run(params)
}

// An op is a list of writes that succeed or fail together.
const runOps = db.transaction((ops) => {
  for (const op of ops) for (const write of op) run(write)
})
const runOp = db.transaction((op) => {
  for (const write of op) run(write)
})

// A locked, full or failing disk fails every write alike; anything else may be one bad op.
const STORAGE_FAULT = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|CORRUPT)/

function describe(err) {
  return { code: typeof err?.code === 'string' ? err.code : 'ERROR', message: String(err?.message ?? err) }
}

parentPort.on('message', (message) => {
  if (message.close) {
    db.close()
    parentPort.close()
    return
  }
  if (message.pragma) {
    // Diagnostics and fault tests: e.g. max_page_count to stand in for a full disk.
    try {
      parentPort.postMessage({ seq: message.seq, value: db.pragma(message.pragma, { simple: true }) })
    } catch (err) {
      parentPort.postMessage({ seq: message.seq, error: describe(err) })
    }
    return
  }
  const { seq, sqls, ops } = message
  for (const [id, sql] of sqls) statements.set(id, db.prepare(sql))
  try {
    runOps(ops)
    parentPort.postMessage({ seq })
  } catch (err) {
    if (ops.length === 1 || STORAGE_FAULT.test(err?.code ?? '')) {
      parentPort.postMessage({ seq, error: describe(err) })
      return
    }
    const errors = ops.map((op) => {
      try {
        runOp(op)
        return null
      } catch (e) {
        return describe(e)
      }
    })
    parentPort.postMessage({ seq, errors })
  }
})

parentPort.postMessage({ ready: true })
