/** Retention: old runs (and their steps) are pruned in batches and the file gives the space back. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Db } from '../../src/journal/db.js'
import { Pruner, uuidv7Floor } from '../../src/journal/retention.js'
import { runWrites } from '../../src/journal/runs.js'
import type { Write } from '../../src/journal/writer.js'
import { Masker } from '../../src/secrets/masker.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startHookrelay } from '../helpers/hookrelay.js'

const DAY = 86_400_000
const silent = { info() {}, warn() {}, error() {}, debug() {} }
const keep = closeAfterEach()
let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

/** Fills `db` with runs received `daysAgo`, each with two steps and a fat request. */
function insertRuns(db: Db, count: number, daysAgo: number, now = Date.now()): string[] {
  // As the writer thread binds them: objects are stored as JSON text.
  const write = ([sql, params]: Write) =>
    db.prepare(sql).run(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : v])))
  const ids: string[] = []
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const at = now - daysAgo * DAY + i
      const id = uuidv7({ msecs: at })
      ids.push(id)
      write(runWrites.insertRun({
        id,
        pipeline: 'p',
        status: 'ok',
        receivedAt: new Date(at).toISOString(),
        request: new Masker().value({ method: 'POST', path: '/hooks/p/***', query: {}, headers: {}, raw: 'x'.repeat(2000) }),
      }))
      for (const seq of [0, 1]) write(runWrites.insertStep(id, { seq, id: `s${seq}`, type: 'http.request', startedAt: new Date(at).toISOString() }))
    }
  })()
  return ids
}

describe('Pruner', () => {
  it('deletes runs older than retention_days with their steps, keeps the rest, and shrinks the file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-retention-'))
    const db = openDatabase(join(dir, 'j.db'))
    insertRuns(db, 3000, 45)
    const recent = insertRuns(db, 20, 1)
    const pagesBefore = db.pragma('page_count', { simple: true }) as number

    const result = await new Pruner(db, silent, { retentionDays: 30, batchSize: 200 }).prune()
    expect(result.deleted).toBe(3000)
    expect(result.batches).toBeGreaterThanOrEqual(15)
    expect(db.prepare('SELECT id FROM runs ORDER BY id').pluck().all()).toEqual(recent)
    expect(db.prepare('SELECT count(*) FROM steps').pluck().get()).toBe(40)
    expect(db.pragma('freelist_count', { simple: true })).toBe(0)
    expect(db.pragma('page_count', { simple: true }) as number).toBeLessThan(pagesBefore / 5)
    db.close()
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
