/**
 * `npm run bench:dedupe`: the duplicate lookup on a journal of 100,000 runs (PRUNE-like data:
 * each run with a dedupe key). It must be an index lookup, not a scan: the query plan is
 * printed, and its time is compared with the same query forced to scan (NOT INDEXED), in the
 * same run. Writes bench/RESULTS-dedupe.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'
import { openDatabase } from '../src/journal/db.js'
import { uuidv7Floor } from '../src/journal/retention.js'
import { FIRST_WITH_KEY, RunsRepository, runWrites } from '../src/journal/runs.js'
import { Deduplicator } from '../src/pipeline/dedupe.js'
import { Masker } from '../src/secrets/masker.js'

const RUNS = Number(process.env['DEDUPE_RUNS'] ?? 100_000)
const LOOKUPS = 5_000
const ROOT = new URL('..', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'hookrelay-dedupe-'))
try {
  const db = openDatabase(join(dir, 'journal.db'))
  const now = Date.now()
  const keys: string[] = []
  const request = new Masker().value({ method: 'POST', path: '/hooks/p/***', query: {}, headers: {}, raw: 'x'.repeat(550) })
  db.transaction(() => {
    const insert = db.prepare(runWrites.insertRun({ id: '', pipeline: '', status: 'ok', receivedAt: '', request })[0])
    for (let i = 0; i < RUNS; i++) {
      const key = Deduplicator.digest('p', `lead-${i}`)
      keys.push(key)
      const [, params] = runWrites.insertRun({ id: uuidv7({ msecs: now - (RUNS - i) * 1000 }), pipeline: 'p', status: 'ok', receivedAt: new Date(now).toISOString(), request, dedupeKey: key })
      insert.run({ ...(params as Record<string, unknown>), request: JSON.stringify(request) })
    }
  })()
  const runs = new RunsRepository(db)
  const since = uuidv7Floor(now - 7 * 86_400_000)
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${FIRST_WITH_KEY}`).all({ key: keys[0], since }) as Array<{ detail: string }>
  const scan = db.prepare(FIRST_WITH_KEY.replace('INDEXED BY runs_by_dedupe_key', 'NOT INDEXED'))
  const time = (fn: (key: string) => unknown, n: number) => {
    const samples: number[] = []
    for (let i = 0; i < n; i++) {
      const key = i % 2 === 0 ? keys[(i * 7919) % keys.length]! : Deduplicator.digest('p', `new-${i}`) // half found, half not
      const t = process.hrtime.bigint()
      fn(key)
      samples.push(Number(process.hrtime.bigint() - t) / 1000)
    }
    samples.sort((a, b) => a - b)
    return { p50: samples[Math.floor(n / 2)]!, p99: samples[Math.floor(n * 0.99)]! }
  }
  const indexed = time((key) => runs.firstWithKey(key, since), LOOKUPS)
  const scanned = time((key) => scan.get({ key, since }), 50)
  if (runs.firstWithKey(keys[123]!, since) === undefined) throw new Error('a kept key was not found')
  const cpu = cpus()
  const report = `# Dedupe lookup benchmark

Produced by \`npm run bench:dedupe\` on ${new Date().toISOString().slice(0, 10)}: a journal of ${RUNS.toLocaleString('en')} runs, each with a dedupe key;
${LOOKUPS.toLocaleString('en')} lookups, half of keys that are there and half of keys that are not. Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}.

Query plan: ${plan.map((p) => `\`${p.detail}\``).join('; ')}

| lookup | p50 µs | p99 µs |
|---|---|---|
| through the index (what hookrelay does) | ${indexed.p50.toFixed(1)} | ${indexed.p99.toFixed(1)} |
| the same query forced to scan (baseline, 50 lookups) | ${scanned.p50.toFixed(0)} | ${scanned.p99.toFixed(0)} |

The index lookup is ${(scanned.p50 / indexed.p50).toFixed(0)} × faster than a scan at this size, and does not grow with the journal.
`
  process.stdout.write(report)
  writeFileSync(join(ROOT, 'bench/RESULTS-dedupe.md'), report)
  db.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
