/**
 * `npm run bench:search`: the journal's text search (GET /journal?q=, the page's search box) on
 * a journal of 100,000 runs with realistic lead bodies. Times findRuns, masking check included,
 * for an email that one run holds, a domain a third of the runs hold (one page of 50), and a
 * text no run holds; against the same searches done by reading every request (instr) in the
 * same run. Also what indexing costs the writer thread per run (it indexes when idle, off the
 * commit path). Writes bench/RESULTS-search.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'
import { openDatabase, type Db } from '../src/journal/db.js'
import { Journal } from '../src/journal/journal.js'
import { runWrites } from '../src/journal/runs.js'
import { findRuns } from '../src/journal/view.js'
import type { BatchWriter } from '../src/journal/writer.js'
import { Masker } from '../src/secrets/masker.js'

const RUNS = Number(process.env['SEARCH_RUNS'] ?? 100_000)
const QUERIES = 200
const ROOT = new URL('..', import.meta.url).pathname
const DOMAINS = ['gmail.com', 'mail.ru', 'yandex.ru']

function lead(i: number): string {
  return JSON.stringify({
    email: `student${i}@${DOMAINS[i % 3]}`,
    phone: `+7916${String(1_000_000 + i).padStart(7, '0')}`,
    name: `Ученик ${i}`,
    order: { number: `GC-${100_000 + i}`, cost: 4990 + (i % 7) * 1000, positions: 'Курс «Английский с нуля»' },
    utm_source: 'vk',
    note: 'x'.repeat(200),
  })
}

function fill(db: Db, from: number, count: number, now: number): void {
  const insert = db.prepare(runWrites.insertRun({ id: '', pipeline: '', status: 'ok', receivedAt: '', request: new Masker().value({ method: 'POST', path: '', query: {}, headers: {}, raw: '' }) })[0])
  db.transaction(() => {
    for (let i = from; i < from + count; i++) {
      const request = { method: 'POST', path: '/hooks/leads/***', query: {}, headers: { 'content-type': 'application/json', 'user-agent': 'GetCourse' }, raw: lead(i) }
      const [, params] = runWrites.insertRun({ id: uuidv7({ msecs: now - (RUNS - i) * 1000 }), pipeline: 'leads', status: 'ok', receivedAt: new Date(now).toISOString(), request: new Masker().value(request) })
      insert.run({ ...(params as Record<string, unknown>), request: JSON.stringify(request) })
    }
  })()
}

function percentiles(samples: number[]): { p50: number; p95: number } {
  samples.sort((a, b) => a - b)
  return { p50: samples[Math.floor(samples.length / 2)]!, p95: samples[Math.floor(samples.length * 0.95)]! }
}

function time(n: number, fn: (i: number) => unknown): { p50: number; p95: number } {
  const samples: number[] = []
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint()
    fn(i)
    samples.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  return percentiles(samples)
}

const dir = mkdtempSync(join(tmpdir(), 'hookrelay-search-'))
try {
  const now = Date.now()
  const db = openDatabase(join(dir, 'journal.db'))
  fill(db, 0, RUNS, now)
  // Index them as the writer thread does when idle (sql-worker.mjs), timed.
  const indexing = process.hrtime.bigint()
  db.transaction(() => {
    db.exec('INSERT INTO runs_search (rowid, text) SELECT rowid, hookrelay_search_text(request) FROM runs')
    db.exec('UPDATE search_state SET last_rowid = (SELECT max(rowid) FROM runs)')
  })()
  const indexUs = Number(process.hrtime.bigint() - indexing) / 1e3 / RUNS
  const journal = new Journal(db, undefined as unknown as BatchWriter) // reads only
  const masker = new Masker()
  const search = (q: string) => findRuns(journal, masker, { q, limit: 50 }).runs.length
  const scan = db.prepare("SELECT id FROM runs WHERE instr(lower(request), lower(?)) > 0 ORDER BY id DESC LIMIT 51").pluck()

  if (search(`student${RUNS - 7}@`) !== 1) throw new Error('the one run holding the email was not found')
  if (search('gmail.com') !== 50) throw new Error('a page of a common domain was not full')
  const cases = [
    { name: 'an email one run holds', q: (i: number) => `student${(i * 7919) % RUNS}@` },
    { name: 'a domain a third of the runs hold (a page of 50)', q: () => DOMAINS[0]! },
    { name: 'a text no run holds', q: (i: number) => `nobody${i}@nowhere.org` },
  ]
  const rows = cases.map((c) => {
    const indexed = time(QUERIES, (i) => search(c.q(i)))
    const scanned = time(Math.min(QUERIES, 30), (i) => scan.all(c.q(i)))
    return { ...c, indexed, scanned }
  })

  const pages = db.pragma('page_count', { simple: true }) as number
  db.close()

  const cpu = cpus()
  const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1)
  const report = `# Journal search benchmark

Produced by \`npm run bench:search\` on ${new Date().toISOString().slice(0, 10)}: a journal of ${RUNS.toLocaleString('en')} runs, each a JSON lead of about 400 bytes
(email, phone, name, order). Times are of \`findRuns\` (the API's and the page's search, the masking check of each hit included),
${QUERIES} queries each, against the same search by reading every request (\`instr\`, newest first, LIMIT 51), ${Math.min(QUERIES, 30)} queries each, in the same run.
Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}. File: ${pages.toLocaleString('en')} pages.

| search | index p50 | index p95 | scan p50 | scan p95 | p95 ratio |
|---|---|---|---|---|---|
${rows.map((r) => `| ${r.name} | ${ms(r.indexed.p50)} ms | ${ms(r.indexed.p95)} ms | ${ms(r.scanned.p50)} ms | ${ms(r.scanned.p95)} ms | ${(r.indexed.p95 / r.scanned.p95).toFixed(3)} |`).join('\n')}

Indexing costs the writer thread ${indexUs.toFixed(1)} µs per run (all ${RUNS.toLocaleString('en')} indexed in one go here). It does it when idle, after
the runs committed, so a request's commit pays nothing for it (\`npm run bench:ab-index\` measures intake with and without it).
`
  writeFileSync(join(ROOT, 'bench/RESULTS-search.md'), report)
  process.stdout.write(report)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
