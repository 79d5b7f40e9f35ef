/**
 * `npm run bench:masking`: what masking costs when a request is full of secrets. One 485 KB JSON
 * body of 16,000 fields is forwarded upstream and echoed back to the caller, once with every
 * field named like a secret (`f0_token` ...) and once with plain names (`f0_name` ...), the same
 * values; the plain body is the baseline, measured in the same run, interleaved.
 *
 * Reported: the request's time, the server's CPU per request (from /proc), and how long /healthz
 * waited meanwhile (the event loop stalled by masking shows there). Target: masked ≤ 2 × plain.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { RUN_LEARNING } from '../src/secrets/masker.js'
import { call } from './lib.js'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15)
const FIELDS = 16_000
const ROOT = new URL('..', import.meta.url).pathname
const KEY = 'mask-key-0123456789'

type Kind = 'secret names' | 'plain names' | 'overlapping secret' | 'plain twin'

interface Sample {
  kind: Kind
  ms: number
  /** The longest /healthz took while the request was under way. */
  healthMs: number
}

let hookrelay: ChildProcess | undefined

async function main(): Promise<void> {
  log('building dist/ ...')
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' })
  const echo = await startEcho()
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-bench-masking-'))
  try {
    const config = join(dir, 'config.yaml')
    writeFileSync(
      config,
      `server: { host: 127.0.0.1, port: 0 }
journal: { path: ${join(dir, 'bench.db')} }
pipelines:
  - id: echo
    source: { type: http, key: ${KEY}, methods: [POST], response: { body: "{{ steps.fwd.body }}" } }
    actions:
      - { id: fwd, type: http.request, url: "http://127.0.0.1:${(echo.address() as AddressInfo).port}/", headers: { Content-Type: application/json }, body: { raw: "{{ request.raw }}" } }
`,
    )
    const { url, pid } = await startHookrelay(config)
    const values = Array.from({ length: FIELDS }, () => randomBytes(11).toString('base64url'))
    const bodies: Record<Kind, string> = {
      'secret names': JSON.stringify(Object.fromEntries(values.map((v, i) => [`f${i}_token`, v]))),
      'plain names': JSON.stringify(Object.fromEntries(values.map((v, i) => [`f${i}_name`, v]))),
      // A secret that overlaps itself everywhere in the text: a search that rechecks each match is quadratic here.
      'overlapping secret': JSON.stringify({ access_token: 'a'.repeat(1000), note: 'a'.repeat(500_000) }),
      'plain twin': JSON.stringify({ access_tokn: 'a'.repeat(1000), note: 'a'.repeat(500_000) }),
    }
    log(`body: ${(Buffer.byteLength(bodies['secret names']) / 1000).toFixed(0)} KB, ${FIELDS} fields`)

    const kinds = Object.keys(bodies) as Kind[]
    for (const kind of kinds) for (let i = 0; i < 3; i++) await send(url, bodies[kind], kind) // warm-up
    const samples: Sample[] = []
    const cpuTicks: Record<Kind, number> = { 'secret names': 0, 'plain names': 0, 'overlapping secret': 0, 'plain twin': 0 }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
        const before = ticks(pid)
        const sample = await send(url, bodies[kind], kind)
        cpuTicks[kind] += ticks(pid) - before
        samples.push(sample)
        log(`round ${round} ${kind.padEnd(12)} ${sample.ms.toFixed(0).padStart(5)} ms  /healthz waited up to ${sample.healthMs.toFixed(0)} ms`)
      }
    }
    const report = summarize(samples, cpuTicks, Buffer.byteLength(bodies['secret names']))
    process.stdout.write(`\n${report}\n`)
    writeFileSync(join(ROOT, 'bench/RESULTS-masking.md'), report)
    log('wrote bench/RESULTS-masking.md')
  } finally {
    hookrelay?.kill('SIGTERM')
    echo.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Posts `body`, checks the echo came back, and probes /healthz every 5 ms meanwhile. */
async function send(url: string, body: string, kind: Kind): Promise<Sample> {
  let healthMs = 0
  let done = false
  const probe = (async () => {
    while (!done) {
      const started = performance.now()
      await call(`${url}/healthz`, 'GET')
      healthMs = Math.max(healthMs, performance.now() - started)
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  const started = performance.now()
  const res = await call(`${url}/hooks/echo/${KEY}`, 'POST', body, { 'content-type': 'application/json' })
  const answer = res.body
  const ms = performance.now() - started
  done = true
  await probe
  if (res.status !== 200) throw new Error(`${kind}: ${res.status} ${answer.slice(0, 200)}`)
  const echoed = JSON.parse(answer) as Record<string, string>
  const masked = Object.values(echoed).filter((v) => v === '***').length
  const expected = { 'secret names': FIELDS, 'plain names': 0, 'overlapping secret': 2, 'plain twin': 0 }[kind]
  if (masked !== expected) throw new Error(`${kind}: ${masked} fields masked in the answer, expected ${expected}`)
  return { kind, ms, healthMs }
}

/** The upstream: answers with the body it got, as a careless API that echoes would. */
function startEcho(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(Buffer.concat(chunks))
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** Runs the service as the production image does: node with its flags, the dist/ bundle. */
function startHookrelay(config: string): Promise<{ url: string; pid: number }> {
  const child = spawn(process.execPath, ['--max-semi-space-size=4', '--max-old-space-size=512', join(ROOT, 'dist/hookrelay.mjs'), 'serve', '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  hookrelay = child
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)
      if (!m) return
      child.stdout!.off('data', onData)
      child.stdout!.resume() // keep draining its log lines
      resolve({ url: m[1]!, pid: child.pid! })
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`hookrelay exited with ${code}: ${out}`)))
  })
}

/** User + system CPU of a process, in clock ticks (1/100 s). */
function ticks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(fields[11]) + Number(fields[12])
}

function summarize(samples: Sample[], cpuTicks: Record<Kind, number>, bytes: number): string {
  const median = (kind: Kind, key: 'ms' | 'healthMs') => {
    const sorted = samples.filter((s) => s.kind === kind).map((s) => s[key]).sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)]!
  }
  const worst = (kind: Kind) => Math.max(...samples.filter((s) => s.kind === kind).map((s) => s.healthMs))
  const cpuMs = (kind: Kind) => (cpuTicks[kind] * 10) / ROUNDS
  const ratio = median('secret names', 'ms') / median('plain names', 'ms')
  const cpuRatio = cpuMs('secret names') / Math.max(cpuMs('plain names'), 1e-9)
  const overlapRatio = median('overlapping secret', 'ms') / median('plain twin', 'ms')
  const row = (kind: Kind) => `| ${kind} | ${median(kind, 'ms').toFixed(0)} | ${cpuMs(kind).toFixed(0)} | ${median(kind, 'healthMs').toFixed(0)} | ${worst(kind).toFixed(0)} |`
  const cpu = cpus()
  return `# Masking benchmark

Produced by \`npm run bench:masking\` on ${new Date().toISOString().slice(0, 10)}: a ${(bytes / 1000).toFixed(0)} KB JSON body of ${FIELDS} fields,
forwarded by one \`http.request\` to an upstream that echoes it, and the echo answered to the caller
(\`response.body: "{{ steps.fwd.body }}"\`). And a 500 KB body of \`a\`s with a 1,000-character
\`access_token\` of \`a\`s: a secret that overlaps itself at every position (a search that rechecks
each match would take seconds), against the same body with a plain name. ${ROUNDS} rounds, the bodies
interleaved; one request at a time, while /healthz is asked every 5 ms. hookrelay runs as the
production image runs it (the \`dist/\` bundle).

Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}.

| body | request ms (median) | server CPU ms per request | /healthz waited ms (median) | /healthz waited ms (worst) |
|---|---|---|---|---|
${row('secret names')}
${row('plain names')}
${row('overlapping secret')}
${row('plain twin')}

| target | measured | |
|---|---|---|
| secret names ≤ 2 × plain names (request time) | ${ratio.toFixed(2)} × | ${ratio <= 2 ? 'met' : 'MISSED'} |
| (server CPU per request, for reference) | ${cpuRatio.toFixed(2)} × | |
| overlapping secret ≤ 2 × its plain twin | ${overlapRatio.toFixed(2)} × | ${overlapRatio <= 2 ? 'met' : 'MISSED'} |

With secret names, a run learns the first ${RUN_LEARNING.values} values (they are masked wherever they appear) and
hides the other ${FIELDS - RUN_LEARNING.values} where they sit, under their names: in the request's fields, in the
JSON it forwards, in the echoed JSON, and in the answer (every field of the answer was checked to
be \`***\`).
`
}

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

main().catch((err: unknown) => {
  hookrelay?.kill('SIGKILL')
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
