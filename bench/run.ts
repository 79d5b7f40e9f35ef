/**
 * `npm run bench`: hookrelay against its ceilings, on loopback, each system its own process.
 *
 *   bare Fastify (JSON parsed, answered)         -> the intake ceiling
 *   Fastify + undici forwarding to the target    -> the relay ceiling
 *   hookrelay intake (actions: [])               -> journaled with synchronous=FULL
 *   hookrelay relay  (one http.request)
 *   hookrelay chain  (json.parse + two http.request)
 *
 * Systems are interleaved, every round runs each for BENCH_DURATION s at 50 connections with a
 * 550-byte GetCourse-like JSON body. Results are ratios to the ceilings measured in the same
 * run, printed and written to bench/RESULTS.md with the machine they came from.
 *
 * The load comes from wrk (C, one thread; `apt-get install wrk`), so that the generator does not
 * take the servers' CPU the way a Node one does on a two-core machine and cap the ceilings.
 * Without wrk it falls back to autocannon in a process of its own, and the results say so.
 *
 * BENCH_RUNTIME=binary measures what the Docker image ships instead: hookrelay as the single
 * binary (`npm run build:binary`, Node 24 inside), and the other systems on that same Node (the
 * one the binary was built from); written to bench/RESULTS-binary.md. The default runs the
 * dist/ bundle on the Node running the bench, as `npm start` does.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, freemem, release, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SECTION_END, SECTION_START } from './binary-section.js'
import { bundleServers, CONNECTIONS, GENERATOR, HOOKRELAY_LISTENING, intakeAndRelay, measure, type Measured, NODE_FLAGS, ORDER_BODY, peakRssMb, ROOT, SERVER_LISTENING, startListening } from './lib.js'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3)
const DURATION = Number(process.env['BENCH_DURATION'] ?? 10)
const TOKEN = 'bench-journal-token-0123456789'


interface Server {
  name: string
  child: ChildProcess
  port: number
}

interface Run extends Measured {
  system: string
  round: number
}

const children: ChildProcess[] = []

/** What runs hookrelay and the other systems: the bundle on this Node, or the binary and its Node. */
const BINARY = process.env['BENCH_RUNTIME'] === 'binary'
const RESULTS = join(ROOT, BINARY ? 'bench/RESULTS-binary.md' : 'bench/RESULTS.md')
/** The Node the binary was built from (scripts/build-binary.mjs keeps it in its cache). */
function binaryNode(): string {
  const cache = join(ROOT, 'node_modules/.cache/hookrelay-binary')
  const dir = readdirSync(cache).filter((d) => /^node-v\d+\.\d+\.\d+-linux-x64$/.test(d)).sort().at(-1)
  if (!dir) throw new Error(`no Node in ${cache}: run npm run build:binary`)
  return join(cache, dir, 'bin/node')
}
let NODE = process.execPath
/** How hookrelay is started: node with the production flags and the bundle, or the binary (its flags are built in). */
function hookrelayCommand(config: string): [string, string[]] {
  return BINARY ? [join(ROOT, 'dist/hookrelay'), ['serve', '--config', config]] : [process.execPath, [...NODE_FLAGS, join(ROOT, 'dist/hookrelay.mjs'), 'serve', '--config', config]]
}


/** The section npm run bench:binary wrote into RESULTS.md, kept as it is. */
function binarySection(): string {
  if (BINARY) return ''
  const old = readFileSync(RESULTS, 'utf8')
  const at = old.indexOf(SECTION_START)
  const end = old.indexOf(SECTION_END)
  return at >= 0 && end > at ? `\n${old.slice(at, end + SECTION_END.length)}\n` : ''
}

async function main(): Promise<void> {
  log(`building ${BINARY ? 'the binary' : 'dist/'} and the bench servers ...`)
  execFileSync(process.execPath, [join(ROOT, BINARY ? 'scripts/build-binary.mjs' : 'scripts/build.mjs')], { stdio: 'inherit' })
  if (BINARY) NODE = binaryNode()
  const servers = await bundleServers()
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-bench-'))
  try {
    const target = await startServer('target', servers)
    const targetUrl = `http://127.0.0.1:${target.port}`
    const bare = await startServer('fastify-bare', servers)
    const forward = await startServer('fastify-forward', servers, [`${targetUrl}/`])
    const config = writeConfig(dir, targetUrl)
    const coldStarts = await measureColdStarts(dir, targetUrl)
    const hookrelay = await startHookrelay(config)

    const systems: Array<[string, string, Server]> = [
      ['fastify (bare)', `http://127.0.0.1:${bare.port}/`, bare],
      ['hookrelay intake', `http://127.0.0.1:${hookrelay.port}/hooks/intake/intake-key-0123456789`, hookrelay],
      ['fastify+undici forward', `http://127.0.0.1:${forward.port}/`, forward],
      ['hookrelay relay', `http://127.0.0.1:${hookrelay.port}/hooks/relay/relay-key-0123456789`, hookrelay],
      ['hookrelay chain', `http://127.0.0.1:${hookrelay.port}/hooks/chain/chain-key-0123456789`, hookrelay],
    ]
    const answered = new Map<string, number>()
    const sent = new Map<string, number>()
    const count = (system: string, r: { ok: number; sent: number }) => {
      answered.set(system, (answered.get(system) ?? 0) + r.ok)
      sent.set(system, (sent.get(system) ?? 0) + r.sent)
    }
    log('warming up ...')
    for (const [system, url, server] of systems) count(system, await measure(url, 2, server.child.pid!, ORDER_BODY))

    const runs: Run[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [system, url, server] of systems) {
        const r = await measure(url, DURATION, server.child.pid!, ORDER_BODY)
        runs.push({ system, round, ...r })
        count(system, r)
        log(`round ${round} ${system.padEnd(24)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}  non-2xx ${r.non2xx}  CPU ${r.cpuUs.toFixed(0)} µs/req (main ${r.mainCpuUs.toFixed(0)}, busiest other ${r.otherCpuUs.toFixed(0)})`)
      }
    }

    const rss = new Map([bare, forward, hookrelay, target].map((s) => [s.name, peakRssMb(s.child.pid!)]))
    await new Promise((r) => setTimeout(r, 1000)) // let the runs still in flight when the load stopped end
    const rows = journalRows(join(dir, 'bench.db'))
    const report = summarize(runs, answered, sent, rows, rss, coldStarts)
    process.stdout.write(`\n${report}\n`)
    writeFileSync(RESULTS, `${report.trimEnd()}\n${binarySection()}`)
    log(`wrote ${RESULTS}`)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
    rmSync(servers, { recursive: true, force: true })
  }
}

/** The version of the Node the systems run on. */
function nodeVersion(): string {
  return NODE === process.execPath ? process.version : execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()
}

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

/** Starts a bundled bench server; it prints {"port"} when listening. */
async function startServer(name: string, dir: string, args: string[] = []): Promise<Server> {
  const { child, port } = await startListening([join(dir, `${name}.mjs`), ...args], SERVER_LISTENING, NODE)
  children.push(child)
  return { name, child, port }
}

function writeConfig(dir: string, target: string, port = 0, db = 'bench.db'): string {
  const path = join(dir, `config-${port}.yaml`)
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, port: ${port} }
journal: { path: ${join(dir, db)}, token: ${TOKEN} }
pipelines:
${intakeAndRelay(target)}
  - id: chain
    source: { type: http, key: chain-key-0123456789, methods: [POST] }
    actions:
      - id: order
        type: json.parse
        fields: { email: '["user"]["email"]', number: '["number"]', name: first_name, cost: { path: cost_money_value, on_missing: empty } }
      - id: crm
        type: http.request
        url: "${target}/crm"
        body: { json: { email: "{{ steps.order.email }}", order: "{{ steps.order.number }}", name: "{{ steps.order.name }}" } }
      - id: lms
        type: http.request
        url: "${target}/lms"
        body: { form: { email: "{{ steps.order.email }}", cost: "{{ steps.order.cost }}" } }
`,
  )
  return path
}

/** Runs the service as it ships (see hookrelayCommand), never through tsx. */
function spawnHookrelay(config: string): ChildProcess {
  const [command, args] = hookrelayCommand(config)
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return child
}

async function startHookrelay(config: string): Promise<Server> {
  const [command, args] = hookrelayCommand(config)
  const { child, port } = await startListening(args, HOOKRELAY_LISTENING, command)
  children.push(child)
  return { name: 'hookrelay', child, port }
}

/** Time from spawn to the first 200 from /healthz, three times; the median. */
async function measureColdStarts(dir: string, target: string): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < 3; i++) {
    const port = 20000 + Math.floor(Math.random() * 20000)
    const config = writeConfig(dir, target, port, `cold-${i}.db`)
    const started = performance.now()
    const child = spawnHookrelay(config)
    child.stdout!.resume()
    for (let tries = 0; tries < 1000; tries++) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)
      if (ok) break
      await new Promise((r) => setTimeout(r, 5))
    }
    times.push(performance.now() - started)
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
  }
  return times.sort((a, b) => a - b)
}

function journalRows(path: string): Map<string, number> {
  const db = new Database(path, { readonly: true })
  try {
    const rows = db.prepare('SELECT pipeline, count(*) AS n FROM runs GROUP BY pipeline').all() as Array<{ pipeline: string; n: number }>
    return new Map(rows.map((r) => [r.pipeline, r.n]))
  } finally {
    db.close()
  }
}

function summarize(
  runs: Run[],
  answered: Map<string, number>,
  sent: Map<string, number>,
  rows: Map<string, number>,
  rss: Map<string, number>,
  coldStarts: number[],
): string {
  const systems = [...new Set(runs.map((r) => r.system))]
  const mean = (system: string, key: keyof Run) => {
    const of = runs.filter((r) => r.system === system)
    return of.reduce((sum, r) => sum + (r[key] as number), 0) / of.length
  }
  const worst = (system: string, key: keyof Run) => Math.max(...runs.filter((r) => r.system === system).map((r) => r[key] as number))
  const total = (system: string, key: keyof Run) => runs.filter((r) => r.system === system).reduce((s, r) => s + (r[key] as number), 0)
  const rssOf = (system: string) => rss.get(system.startsWith('hookrelay') ? 'hookrelay' : system.startsWith('fastify (bare)') ? 'fastify-bare' : 'fastify-forward') ?? 0

  const table = systems.map(
    (s) =>
      `| ${s} | ${mean(s, 'rps').toFixed(0)} | ${mean(s, 'p50').toFixed(1)} | ${worst(s, 'p99')} | ${total(s, 'errors')} | ${total(s, 'non2xx')} | ${rssOf(s).toFixed(0)} | ${mean(s, 'cpuUs').toFixed(0)} | ${mean(s, 'mainCpuUs').toFixed(0)} | ${mean(s, 'otherCpuUs').toFixed(0)} |`,
  )
  const ratio = (a: string, b: string) => mean(a, 'rps') / mean(b, 'rps')
  const intake = ratio('hookrelay intake', 'fastify (bare)')
  const relay = ratio('hookrelay relay', 'fastify+undici forward')
  const chain = ratio('hookrelay chain', 'fastify+undici forward')
  const hookrelaySystems = systems.filter((s) => s.startsWith('hookrelay'))
  const p99 = Math.max(...hookrelaySystems.map((s) => worst(s, 'p99')))
  const errors = hookrelaySystems.reduce((n, s) => n + total(s, 'errors') + total(s, 'non2xx'), 0)
  // The load generator stops counting with requests in flight: those are kept and answered, but
  // not counted as 2xx. So every 2xx must be kept (kept >= 2xx), and nothing beyond what was sent.
  let rowsOk = true
  const rowLines = ['intake', 'relay', 'chain'].map((p) => {
    const ok = answered.get(`hookrelay ${p}`) ?? 0
    const out = sent.get(`hookrelay ${p}`) ?? 0
    const kept = rows.get(p) ?? 0
    const fine = kept >= ok && kept <= out
    rowsOk &&= fine
    return `| ${p} | ${out} | ${ok} | ${kept} | ${fine ? `every 2xx kept (${kept - ok} more were in flight when the load stopped)` : 'MISSING RUNS'} |`
  })
  const cold = coldStarts[1] ?? coldStarts[0] ?? 0
  const check = (ok: boolean) => (ok ? 'met' : 'MISSED')
  const cpu = cpus()

  return `# Benchmark results

Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${ROUNDS} rounds × ${DURATION} s per system, ${CONNECTIONS} connections,
a ${Buffer.byteLength(ORDER_BODY)}-byte JSON body, systems interleaved, each server its own process on loopback. Load: ${GENERATOR}. ${BINARY ? `hookrelay runs as the Docker image ships it, the single binary (\`dist/hookrelay\`); every system runs on its Node, ${nodeVersion()}` : 'hookrelay runs as `npm start` does (the \`dist/\` bundle)'}, journal with \`synchronous=FULL\`, logging JSON lines at info level (a run that went well logs at debug, so not at all).

Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free), Linux ${release()}, Node ${nodeVersion()}.
The machine is shared and noisy: compare the ratios, not the absolute numbers.

| system | req/s (mean) | p50 ms (mean) | p99 ms (worst) | errors | non-2xx | peak RSS MB | CPU µs/req (all threads) | CPU µs/req (main thread) | CPU µs/req (busiest other thread) |
|---|---|---|---|---|---|---|---|---|---|
${table.join('\n')}

The upstream target (a bare \`node:http\` server, for the relay and chain systems) peaked at ${(rss.get('target') ?? 0).toFixed(0)} MB.
CPU per request is each server's user + system time from \`/proc\` over the load, divided by the
requests answered 2xx; the main thread is the event loop; for hookrelay the busiest other thread
is its journal writer (Node names no thread; V8's helpers and libuv's pool share the rest).

## Targets

| target | measured | |
|---|---|---|
| intake ≥ 0.50 × bare Fastify (synchronous=FULL) | ${intake.toFixed(2)} × | ${check(intake >= 0.5)} |
| relay ≥ 0.70 × Fastify + undici forward | ${relay.toFixed(2)} × | ${check(relay >= 0.7)} |
| chain (two calls) vs the same one-call ceiling | ${chain.toFixed(2)} × | (for reference) |
| p99 ≤ 20 ms at 50 connections (hookrelay, worst round) | ${p99} ms | ${check(p99 <= 20)} |
| zero errors and non-2xx (hookrelay) | ${errors} | ${check(errors === 0)} |
| journal rows = requests answered 2xx | see below | ${check(rowsOk)} |
| hookrelay peak RSS ≤ 150 MB | ${rssOf('hookrelay intake').toFixed(0)} MB (${(rssOf('hookrelay intake') / rssOf('fastify (bare)')).toFixed(2)} × bare Fastify's ${rssOf('fastify (bare)').toFixed(0)} MB) | ${check(rssOf('hookrelay intake') <= 150)} |
| cold start to /healthz ≤ 1 s (median of 3) | ${cold.toFixed(0)} ms (${coldStarts.map((t) => t.toFixed(0)).join(', ')}) | ${check(cold <= 1000)} |

## Journal rows vs requests (warm-up included)

| pipeline | sent | answered 2xx | runs kept | |
|---|---|---|---|---|
${rowLines.join('\n')}

## Every round

| round | system | req/s | p50 | p99 | errors | non-2xx |
|---|---|---|---|---|---|---|
${runs.map((r) => `| ${r.round} | ${r.system} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} |`).join('\n')}
`
}

main().catch((err: unknown) => {
  for (const child of children) child.kill('SIGKILL')
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
