/**
 * `npm run bench:prune`: how long retention holds the event loop. Fills a journal with
 * 100,000 runs older than the retention period, prunes them (the deletes run on the writer
 * thread) while sampling event-loop delay, and prints the longest batch, the longest delay and
 * the file's pages before and after.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { v7 as uuidv7 } from 'uuid'
import { openDatabase } from '../src/journal/db.js'
import { Pruner } from '../src/journal/retention.js'
import { runWrites } from '../src/journal/runs.js'
import { BatchWriter } from '../src/journal/writer.js'
import { Masker } from '../src/secrets/masker.js'

const RUNS = Number(process.env['PRUNE_RUNS'] ?? 100_000)
const dir = mkdtempSync(join(tmpdir(), 'hookrelay-prune-'))
try {
  const db = openDatabase(join(dir, 'journal.db'))
  const old = Date.now() - 40 * 86_400_000
  db.transaction(() => {
    for (let i = 0; i < RUNS; i++) {
      const id = uuidv7({ msecs: old + i })
      const request = new Masker().value({ method: 'POST', path: '/hooks/p/***', query: {}, headers: {}, raw: 'x'.repeat(550) })
      const [sql, params] = runWrites.insertRun({ id, pipeline: 'p', status: 'ok', receivedAt: new Date(old + i).toISOString(), request })
      db.prepare(sql).run({ ...params, request: JSON.stringify(request) })
      const [stepSql, step] = runWrites.insertStep(id, { seq: 0, id: 's', type: 'http.request', startedAt: new Date(old + i).toISOString() })
      db.prepare(stepSql).run(step)
    }
  })()
  const pagesBefore = db.pragma('page_count', { simple: true }) as number
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  const started = performance.now()
  const silent = { info() {}, warn() {}, error() {}, debug() {} }
  const writer = await BatchWriter.open(join(dir, 'journal.db'), silent)
  const result = await new Pruner(db, writer, silent, { retentionDays: 30 }).prune()
  delay.disable()
  await writer.close()
  process.stdout.write(
    `${JSON.stringify({
      runs: RUNS,
      deleted: result.deleted,
      batches: result.batches,
      totalMs: Math.round(performance.now() - started),
      longestBatchMs: Number(result.maxBatchMs.toFixed(1)),
      longestEventLoopDelayMs: Number((delay.max / 1e6).toFixed(1)),
      pagesBefore,
      pagesAfter: db.pragma('page_count', { simple: true }),
    })}\n`,
  )
  db.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
