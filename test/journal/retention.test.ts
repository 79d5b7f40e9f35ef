/**
 * Retention: old runs (and their steps) are pruned in batches through the writer thread and the
 * file gives the space back; runs still running or waiting for a letter stay, a clock set ahead
 * is not believed, and a lock held by another program never holds the event loop.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Db } from '../../src/journal/db.js'
import { Pruner, SteadyClock, uuidv7Floor } from '../../src/journal/retention.js'
import { runWrites, type RunStatus } from '../../src/journal/runs.js'
import { BatchWriter, type Write } from '../../src/journal/writer.js'
import { letterWrites } from '../../src/notify/store.js'
import { Masker } from '../../src/secrets/masker.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startHookrelay } from '../helpers/hookrelay.js'

const DAY = 86_400_000
const quiet = (..._: unknown[]) => {}
const silent = { info: quiet, warn: quiet, error: quiet, debug: quiet }
const keep = closeAfterEach()
let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

/** A journal file with its reading connection and writer thread (closed after the test). */
async function journalFile(name = 'j.db', log: typeof silent = silent): Promise<{ path: string; db: Db; writer: BatchWriter }> {
  dir = mkdtempSync(join(tmpdir(), 'hookrelay-retention-'))
  const path = join(dir, name)
  const db = openDatabase(path)
  const writer = await keep(BatchWriter.open(path, log))
  await keep(Promise.resolve({ close: async () => void db.close() }))
  return { path, db, writer }
}

// As the writer thread binds them: objects are stored as JSON text.
function write(db: Db, [sql, params]: Write): void {
  const bind = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : v)
  if (Array.isArray(params)) db.prepare(sql).run(...params.map(bind))
  else db.prepare(sql).run(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, bind(v)])))
}

/** Fills `db` with runs received `daysAgo`, each with two steps and a fat request. */
function insertRuns(db: Db, count: number, daysAgo: number, now = Date.now(), status: RunStatus = 'ok'): string[] {
  const ids: string[] = []
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const at = now - daysAgo * DAY + i
      const id = uuidv7({ msecs: at })
      ids.push(id)
      write(db, runWrites.insertRun({
        id,
        pipeline: 'p',
        status,
        receivedAt: new Date(at).toISOString(),
        request: new Masker().value({ method: 'POST', path: '/hooks/p/***', query: {}, headers: {}, raw: 'x'.repeat(2000) }),
      }))
      for (const seq of [0, 1]) write(db, runWrites.insertStep(id, { seq, id: `s${seq}`, type: 'http.request', startedAt: new Date(at).toISOString() }))
    }
  })()
  return ids
}

describe('Pruner', () => {
  it('deletes runs older than retention_days with their steps, keeps the rest, and shrinks the file', async () => {
    const { db, writer } = await journalFile()
    insertRuns(db, 3000, 45)
    const recent = insertRuns(db, 20, 1)
    const pagesBefore = db.pragma('page_count', { simple: true }) as number

    const result = await new Pruner(db, writer, silent, { retentionDays: 30, batchSize: 200 }).prune()
    expect(result.deleted).toBe(3000)
    expect(result.batches).toBeGreaterThanOrEqual(15)
    expect(db.prepare('SELECT id FROM runs ORDER BY id').pluck().all()).toEqual(recent)
    expect(db.prepare('SELECT count(*) FROM steps').pluck().get()).toBe(40)
    expect(db.pragma('freelist_count', { simple: true })).toBe(0)
    expect(db.pragma('page_count', { simple: true }) as number).toBeLessThan(pagesBefore / 5)
  })

  it('never deletes a run still running, waiting for its letter, or in a letter not yet sent', async () => {
    const { db, writer } = await journalFile()
    const running = insertRuns(db, 3, 400, Date.now(), 'running')
    const [waiting, inUnsent, inSent, plain] = insertRuns(db, 4, 45, Date.now(), 'failed')
    const summary = (runId: string) => ({ runId: runId!, pipeline: 'p', pipelineName: 'p', status: 'failed', error: 'e', receivedAt: '', request: '' })
    const old = new Date(Date.now() - 45 * DAY)
    write(db, letterWrites.addFailure(summary(waiting!) as never, old))
    for (const w of letterWrites.addLetter('p', [inUnsent!], { subject: 's', body: 'b' }, old)) write(db, w)
    for (const w of letterWrites.addLetter('p', [inSent!], { subject: 's', body: 'b' }, old)) write(db, w)
    write(db, letterWrites.markSent(db.prepare('SELECT max(id) FROM letters').pluck().get() as number, old))

    const result = await new Pruner(db, writer, silent, { retentionDays: 30 }).prune()
    expect(result.deleted).toBe(2)
    expect(db.prepare('SELECT id FROM runs ORDER BY id').pluck().all()).toEqual([...running, waiting, inUnsent].sort())
    expect(db.prepare('SELECT id FROM runs WHERE id IN (?, ?)').pluck().all(inSent, plain)).toEqual([])
    // The sent letter went with its runs; the one waiting stays.
    expect(db.prepare('SELECT run_ids, sent_at IS NULL AS unsent FROM letters').all()).toEqual([{ run_ids: JSON.stringify([inUnsent]), unsent: 1 }])
  })

  it('is not fooled by a system clock set far ahead while it runs', async () => {
    const warnings: unknown[] = []
    const { db, writer } = await journalFile('j.db', { ...silent, warn: (fields: unknown) => void warnings.push(fields) })
    const old = insertRuns(db, 10, 45)
    const recent = insertRuns(db, 10, 1)
    const running = insertRuns(db, 2, 0, Date.now(), 'running')
    let jump = 0
    const clock = new SteadyClock(() => Date.now() + jump)
    const pruner = new Pruner(db, writer, { ...silent, warn: (fields: unknown) => void warnings.push(fields) }, { retentionDays: 30, clock })

    jump = 400 * DAY // NTP gone wrong, or an operator's typo
    expect((await pruner.prune()).deleted).toBe(10)
    const left = db.prepare('SELECT id FROM runs ORDER BY id').pluck().all()
    expect(left).toEqual([...recent, ...running].sort())
    expect(old.some((id) => left.includes(id))).toBe(false)
    expect(warnings).toEqual([{ hoursAhead: 400 * 24 }])

    // A clock set back is believed: deleting less is safe.
    jump = -40 * DAY
    expect((await pruner.prune()).deleted).toBe(0)
    expect(clock.now()).toBeLessThan(Date.now() - 39 * DAY)
  })

  it('waits on the writer thread for a lock another program holds; the event loop stays free', async () => {
    const { path, db } = await journalFile()
    const writer = await keep(BatchWriter.open(path, silent, { busyTimeoutMs: 600 }))
    insertRuns(db, 100, 45)
    const other = openDatabase(path)
    other.exec('BEGIN IMMEDIATE') // another program writing
    let ticks = 0
    const ticker = setInterval(() => ticks++, 10)
    const started = performance.now()
    await expect(new Pruner(db, writer, silent, { retentionDays: 30 }).prune()).rejects.toMatchObject({ code: 'SQLITE_BUSY' })
    const waited = performance.now() - started
    clearInterval(ticker)
    other.exec('ROLLBACK')
    other.close()
    expect(waited).toBeGreaterThanOrEqual(550)
    expect(ticks).toBeGreaterThanOrEqual(20) // a timer every 10 ms kept firing while it waited
    expect(db.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(100)
    expect((await new Pruner(db, writer, silent, { retentionDays: 30 }).prune()).deleted).toBe(100) // tried again, it goes
  })

  it('draws the line by receipt time through the id', () => {
    const at = Date.UTC(2026, 0, 1)
    expect(uuidv7({ msecs: at - 1 }) < uuidv7Floor(at)).toBe(true)
    expect(uuidv7({ msecs: at }) >= uuidv7Floor(at)).toBe(true)
  })

  it('prunes at start', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-retention-'))
    const db = openDatabase(join(dir, 'journal.db'))
    insertRuns(db, 50, 10)
    const recent = insertRuns(db, 5, 1)
    db.close()
    const hr = await keep(startHookrelay('journal: { path: PATH, retention_days: 7, token: test-journal-token-0123456789 }\npipelines: []\n'.replace('PATH', join(dir, 'journal.db'))))
    let ids: string[] = []
    for (let i = 0; i < 200; i++) {
      ids = (await hr.journal('?limit=500')).runs.map((r: { id: string }) => r.id)
      if (ids.length === 5) break
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(ids.sort()).toEqual(recent)
  })
})
