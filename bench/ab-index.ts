/**
 * `npm run bench:ab-index`: what the journal's search index costs intake, A/B in one run. Two
 * hookrelay processes from the same bundle, each with its own journal; B's writer thread is
 * told the index is complete far ahead (search_state), so it never indexes. wrk (one thread, 50 connections) loads them in turn, A B A B
 * ..., BENCH_ROUNDS rounds of BENCH_DURATION s. Prints req/s, p99 and the CPU per request of
 * each process (all threads), and the ratio B/A from the same run.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { cpuTicks, HOOKRELAY_LISTENING, LEAD_BODY, NODE_FLAGS, ROOT, run, startListening, WRK, wrkPostScript } from './lib.js'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3)
const DURATION = Number(process.env['BENCH_DURATION'] ?? 8)
const children: ChildProcess[] = []

async function startHookrelay(dir: string, name: string): Promise<{ child: ChildProcess; port: number }> {
  const config = join(dir, `${name}.yaml`)
  writeFileSync(config, `server: { host: 127.0.0.1, port: 0 }\njournal: { path: ${join(dir, `${name}.db`)} }\npipelines:\n  - id: intake\n    source: { type: http, key: intake-key-0123456789 }\n    actions: []\n`)
  const started = await startListening([...NODE_FLAGS, join(ROOT, 'dist/hookrelay.mjs'), 'serve', '--config', config], HOOKRELAY_LISTENING)
  children.push(started.child)
  return started
}

/** Waits (at most 60 s) until the writer thread has indexed every run; returns how long it took, in ms. */
async function waitIndexed(path: string): Promise<number> {
  const started = Date.now()
  const db = new Database(path, { readonly: true })
  try {
    const behind = db.prepare('SELECT (SELECT max(rowid) FROM runs) - (SELECT last_rowid FROM search_state)').pluck()
    while ((behind.get() as number) > 0 && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 50))
    return Date.now() - started
  } finally {
    db.close()
  }
}

async function main(): Promise<void> {
  if (!WRK) throw new Error('needs wrk: apt-get install wrk')
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' })
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-ab-'))
  try {
    const a = await startHookrelay(dir, 'a')
    const b = await startHookrelay(dir, 'b')
    const db = new Database(join(dir, 'b.db'))
    db.exec('UPDATE search_state SET last_rowid = 9000000000000000000') // B never indexes
    db.close()
    const script = wrkPostScript(dir, LEAD_BODY)
    const results: Record<'a' | 'b', Array<{ rps: number; p99: string; cpuUs: number }>> = { a: [], b: [] }
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [name, server] of [['a', a], ['b', b]] as const) {
        const before = cpuTicks(`/proc/${server.child.pid!}/stat`)
        const out = await run(WRK, ['-t1', '-c50', `-d${round === 0 ? 2 : DURATION}s`, '--latency', '-s', script, `http://127.0.0.1:${server.port}/hooks/intake/intake-key-0123456789`])
        const requests = Number(/(\d+) requests in/.exec(out)?.[1])
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
        const p99 = /^\s+99%\s+(\S+)$/m.exec(out)?.[1] ?? '?'
        const cpuUs = ((cpuTicks(`/proc/${server.child.pid!}/stat`) - before) * 10_000) / requests
        // A indexes once the load stops: let it catch up (and count that CPU) before B's turn.
        const caughtUp = name === 'a' ? await waitIndexed(join(dir, 'a.db')) : 0
        const cpuWithIndexUs = ((cpuTicks(`/proc/${server.child.pid!}/stat`) - before) * 10_000) / requests
        if (round > 0) results[name].push({ rps, p99, cpuUs: cpuWithIndexUs }) // round 0 warms up
        process.stderr.write(
          `${round === 0 ? 'warm-up' : `round ${round}`} ${name === 'a' ? 'A (with the index)' : 'B (without)'}: ${rps.toFixed(0)} req/s, p99 ${p99}, CPU ${cpuUs.toFixed(0)} µs/req under load, ${cpuWithIndexUs.toFixed(0)} with the catching up (${caughtUp} ms)\n`,
        )
      }
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length
    const rps = { a: mean(results.a.map((r) => r.rps)), b: mean(results.b.map((r) => r.rps)) }
    const cpu = { a: mean(results.a.map((r) => r.cpuUs)), b: mean(results.b.map((r) => r.cpuUs)) }
    process.stdout.write(
      `intake with the search index: ${rps.a.toFixed(0)} req/s, ${cpu.a.toFixed(0)} µs CPU/req; without: ${rps.b.toFixed(0)} req/s, ${cpu.b.toFixed(0)} µs CPU/req; with/without ${(rps.a / rps.b).toFixed(2)} × req/s, ${(cpu.a / cpu.b).toFixed(2)} × CPU (${ROUNDS} interleaved rounds of ${DURATION} s, wrk -t1 -c50)\n`,
    )
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  for (const child of children) child.kill('SIGKILL')
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
