/**
 * The text search over a real journal file, at the level of findRuns (what the API and the page
 * call): runs the writer thread has indexed and runs it has not yet, in one order across pages;
 * more runs past the index than one read takes; a journal emptied by retention; and secrets,
 * which no search and no cursor may reveal, whatever their length.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Db } from '../../src/journal/db.js'
import { Journal } from '../../src/journal/journal.js'
import { runWrites } from '../../src/journal/runs.js'
import { findRuns } from '../../src/journal/view.js'
import type { BatchWriter } from '../../src/journal/writer.js'
import { Masker } from '../../src/secrets/masker.js'

let dir: string | undefined
let db: Db | undefined
afterEach(() => {
  db?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
  db = dir = undefined
})

function journalFile(): { db: Db; journal: Journal } {
  dir = mkdtempSync(join(tmpdir(), 'hookrelay-search-'))
  db = openDatabase(join(dir, 'journal.db'))
  return { db, journal: new Journal(db, undefined as unknown as BatchWriter) } // reads only: nothing indexes behind the test's back
}

/** Keeps runs with these JSON bodies, oldest first; returns their ids. */
function keep(target: Db, bodies: unknown[]): string[] {
  const insert = target.prepare(runWrites.insertRun({ id: '', pipeline: '', status: 'ok', receivedAt: '', request: new Masker().value({ method: 'POST', path: '', query: {}, headers: {}, raw: '' }) })[0])
  const ids: string[] = []
  target.transaction(() => {
    for (const body of bodies) {
      const id = uuidv7()
      const request = { method: 'POST', path: '/hooks/p/***', query: {}, headers: { 'content-type': 'application/json' }, raw: JSON.stringify(body) }
      const [, params] = runWrites.insertRun({ id, pipeline: 'p', status: 'ok', receivedAt: new Date().toISOString(), request: new Masker().value(request) })
      insert.run({ ...(params as Record<string, unknown>), request: JSON.stringify(request) })
      ids.push(id)
    }
  })()
  return ids
}

/** Indexes the runs up to the `count`-th, as the writer thread does when idle. */
function indexFirst(target: Db, count: number): void {
  target.transaction(() => {
    target.prepare('INSERT INTO runs_search (rowid, text) SELECT rowid, hookrelay_search_text(request) FROM runs WHERE rowid > (SELECT last_rowid FROM search_state) ORDER BY rowid LIMIT ?').run(count)
    target.exec('UPDATE search_state SET last_rowid = (SELECT max(rowid) FROM runs_search)')
  })()
}

/** Every page of a search, following `next`. */
function everyPage(journal: Journal, q: string, limit: number): string[] {
  const seen: string[] = []
  let before: string | undefined
  for (let pages = 0; pages < 100; pages++) {
    const page = findRuns(journal, new Masker(), { q, limit, before })
    seen.push(...page.runs.map((r) => r.id))
    if (!page.next) break
    before = page.next
  }
  return seen
}

describe('search', () => {
  it('pages across the runs indexed and those not yet, newest first, each once', () => {
    const { db, journal } = journalFile()
    const ids = keep(db, Array.from({ length: 10 }, (_, i) => ({ email: `pupil${i}@lyceum.ru` })))
    indexFirst(db, 6)
    expect(db.prepare('SELECT last_rowid FROM search_state').pluck().get()).toBe(6)
    expect(everyPage(journal, 'lyceum.ru', 4)).toEqual([...ids].reverse())
    expect(everyPage(journal, 'pupil2@', 4)).toEqual([ids[2]]) // in the index
    expect(everyPage(journal, 'pupil8@', 4)).toEqual([ids[8]]) // not yet
  })

  it('goes on past more runs not yet indexed than one read takes', () => {
    const { db, journal } = journalFile()
    const old = keep(db, Array.from({ length: 5 }, (_, i) => ({ email: `early${i}@first.ru` })))
    keep(db, Array.from({ length: 20_010 }, (_, i) => ({ email: `later${i}@second.ru` })))
    expect(everyPage(journal, 'first.ru', 50)).toEqual([...old].reverse())
  })

  it('finds new runs after retention emptied the journal', () => {
    const { db, journal } = journalFile()
    keep(db, [{ email: 'a@old.ru' }, { email: 'b@old.ru' }, { email: 'c@old.ru' }])
    indexFirst(db, 3)
    db.exec('DELETE FROM runs')
    const [fresh] = keep(db, [{ email: 'fresh@new.ru' }])
    expect(everyPage(journal, 'fresh@new', 10)).toEqual([fresh])
    indexFirst(db, 10)
    expect(everyPage(journal, 'fresh@new', 10)).toEqual([fresh])
  })

  it('never reveals a secret, short or long, through what it finds or through its cursor', () => {
    const { db, journal } = journalFile()
    const long = `Zsecretpart${'q'.repeat(100)}`
    const [shortRun, longRun, first, second, plain] = keep(db, [
      { email: 'a@school.ru', password: 'zq7xk2' },
      { email: 'b@school.ru', api_token: long },
      { email: 'c@school.ru', password: 'hunter2hunter2' },
      { email: 'd@school.ru', password: 'hunter2hunter2' },
      { email: 'hunter2@school.ru' },
    ])
    indexFirst(db, 3) // some indexed, some not: both paths
    for (const q of ['zq7xk2', 'Zsecretpart', 'qqqqqqqq', 'hunter2hunter2']) expect(everyPage(journal, q, 10)).toEqual([])
    // The run whose own field holds the text is found; the two whose secret holds it are not, and no cursor points at them.
    expect(findRuns(journal, new Masker(), { q: 'hunter2', limit: 1 })).toEqual({ runs: [expect.objectContaining({ id: plain })], next: null })
    expect(everyPage(journal, 'school.ru', 2)).toEqual([plain, second, first, longRun, shortRun])
  })
})
