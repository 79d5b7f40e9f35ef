/**
 * `npm run bench:hostile`: what the nastiest body of each kind costs the server, against the
 * same body with plain names (or its harmless twin), measured in one run, interleaved. Each kind
 * is one way a caller with only a pipeline's public URL made the server stall, grow or crash
 * (issue 21): many secret-named fields full of escapes, in JSON, a form, the query string, VK
 * answers; a long value rendered into a URL; many `scheme://user@` parts in a rendered URL; a
 * Tilda cart nested 20,000 deep; JSON nested as deep.
 *
 * Measured per request: its time, and the event loop's worst stall while it was under way, as
 * seen by a probe that asks for an unknown path every 5 ms (answered 404 on the event loop,
 * without the journal); then the same for reading the run back (GET /journal/<id>). After the
 * rounds, 100 more of the nastiest body, every one distinct, and the resident memory before and
 * after. hookrelay runs as the production image runs it (`dist/`, npm start's heap flags).
 *
 * Targets (issue 21): stall ratio ≤ 2 × the twin's (medians); no body up to body_limit stalls
 * the loop more than 250 ms; RSS within 50 MB of where it started after the 100; no crash.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { call, HOOKRELAY_LISTENING, NODE_FLAGS, ROOT, startListening } from './lib.js'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9)
/** Only the kinds whose name holds this text (to measure one way in, or the old code, which stalls for minutes on some). */
const ONLY = process.env['BENCH_KINDS']
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 100)
const TOKEN = 'bench-journal-token-0123456789'
const KEY = 'hostile-key-0123456789'
const PROBE_MS = 5
const STALL_LIMIT_MS = 250
const RSS_LIMIT_MB = 50

/** One way in: a request and its harmless twin, sent to the same pipeline. */
interface Kind {
  name: string
  pipeline: string
  nasty: (n: number) => Body
  twin: (n: number) => Body
}

interface Body {
  query?: string
  contentType?: string
  body?: string
}

interface Sample {
  ms: number
  stallMs: number
  readStallMs: number
  status: number
}

/** Characters with many encoded forms: quoted, escaped, HTML-escaped, non-ASCII, outside the BMP's Latin. */
const ESCAPES = '‹"\\&\'Ж'
/** About 1 KB of them, different for each `n` so that no cache helps. */
const escapeHeavy = (n: number, length = 1000) => `${n}:${ESCAPES.repeat(Math.ceil(length / ESCAPES.length))}`.slice(0, length)

const jsonFields = (prefix: string, n: number, count = 100) => JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, escapeHeavy(n * 1000 + i)])))
const formFields = (prefix: string, n: number, count = 100) =>
  new URLSearchParams(Array.from({ length: count }, (_, i): [string, string] => [`${prefix}${i}`, escapeHeavy(n * 1000 + i)])).toString()
const vkLead = (prefix: string, n: number) =>
  JSON.stringify({
    type: 'lead_forms_new',
    event_id: `ev-${n}`,
    group_id: 1,
    object: { lead_id: n, group_id: 1, user_id: 2, form_id: 3, form_name: 'form', answers: Array.from({ length: 100 }, (_, i) => ({ key: `${prefix}${i}`, question: 'q', answer: escapeHeavy(n * 1000 + i) })) },
  })
const deepJson = (depth: number) => `{"a":${'['.repeat(depth)}1${']'.repeat(depth)}}`

const KINDS: Kind[] = [
  { name: 'JSON, 100 secret-named fields of 1 KB escapes', pipeline: 'intake', nasty: (n) => json(jsonFields('password', n)), twin: (n) => json(jsonFields('name', n)) },
  { name: 'form, 100 secret-named fields of 1 KB escapes', pipeline: 'intake', nasty: (n) => form(formFields('password', n)), twin: (n) => form(formFields('name', n)) },
  { name: 'query, secret-named parameters (12 KB)', pipeline: 'intake', nasty: (n) => ({ query: formFields('token', n, 12).slice(0, 12_000) }), twin: (n) => ({ query: formFields('name', n, 12).slice(0, 12_000) }) },
  { name: 'JSON, one secret-named field of 900 KB escapes', pipeline: 'intake', nasty: (n) => json(JSON.stringify({ password: escapeHeavy(n, 400_000) })), twin: (n) => json(JSON.stringify({ name: escapeHeavy(n, 400_000) })) },
  { name: 'VK lead, 100 answers keyed like secrets', pipeline: 'vk', nasty: (n) => json(vkLead('password', n)), twin: (n) => json(vkLead('name', n)) },
  {
    name: 'URL template, a 500,000-letter e-mail',
    pipeline: 'crm',
    nasty: (n) => json(JSON.stringify({ email: `${'a'.repeat(500_000)}${n}@example.com` })),
    twin: (n) => json(JSON.stringify({ email: `${'1'.repeat(500_000)}${n}@example.com` })),
  },
  {
    name: 'URL template, 20,000 scheme://user@ parts',
    pipeline: 'link',
    nasty: (n) => json(JSON.stringify({ path: Array.from({ length: 20_000 }, (_, i) => `x://u${n}k${i}secretpart@`).join('') })),
    twin: (n) => json(JSON.stringify({ path: Array.from({ length: 20_000 }, (_, i) => `x--u${n}k${i}secretpart-`).join('') })),
  },
  { name: 'Tilda cart nested 20,000 deep', pipeline: 'tilda', nasty: (n) => form(`formid=f${n}&payment${'[a]'.repeat(20_000)}=1`), twin: (n) => form(`formid=f${n}&payment_a=${'a'.repeat(60_000)}`) },
  { name: 'JSON nested 20,000 deep', pipeline: 'intake', nasty: () => json(deepJson(20_000)), twin: () => json(JSON.stringify({ a: '1'.repeat(40_000) })) },
]

function json(body: string): Body {
  return { contentType: 'application/json', body }
}
function form(body: string): Body {
  return { contentType: 'application/x-www-form-urlencoded', body }
}

let hookrelay: ChildProcess | undefined
let exited: string | undefined

async function main(): Promise<void> {
  log('building dist/ ...')
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' })
  const echo = await startEcho()
  const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-bench-hostile-'))
  try {
    const config = join(dir, 'config.yaml')
    writeFileSync(config, configYaml(dir, echoUrl))
    const { url, pid } = await startHookrelay(config)
    const results: Array<{ kind: Kind; nasty: Sample[]; twin: Sample[] }> = []
    for (const kind of KINDS.filter((k) => ONLY === undefined || k.name.includes(ONLY))) {
      const nasty: Sample[] = []
      const twin: Sample[] = []
      await send(url, kind, kind.twin(0)) // warm-up
      for (let round = 1; round <= ROUNDS && !exited; round++) {
        const order = round % 2 === 0 ? ['nasty', 'twin'] : ['twin', 'nasty']
        for (const which of order) {
          const sample = await send(url, kind, which === 'nasty' ? kind.nasty(round) : kind.twin(round))
          ;(which === 'nasty' ? nasty : twin).push(sample)
          log(`${kind.name}: ${which.padEnd(5)} ${sample.status} ${sample.ms.toFixed(0).padStart(6)} ms, stall ${sample.stallMs.toFixed(0)} ms, read back stall ${sample.readStallMs.toFixed(0)} ms`)
        }
      }
      results.push({ kind, nasty, twin })
      if (exited) break
    }
    const memory = exited ? undefined : await repeatNastiest(url, pid)
    const report = summarize(results, memory)
    process.stdout.write(`\n${report}\n`)
    writeFileSync(join(ROOT, 'bench/RESULTS-hostile.md'), report)
    log('wrote bench/RESULTS-hostile.md')
  } finally {
    hookrelay?.kill('SIGTERM')
    echo.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function configYaml(dir: string, echoUrl: string): string {
  return `server: { host: 127.0.0.1, port: 0 }
journal: { path: ${join(dir, 'bench.db')}, token: ${TOKEN} }
pipelines:
  - id: intake
    source: { type: http, key: ${KEY} }
    actions: []
  - id: crm
    source: { type: http, key: ${KEY} }
    actions:
      - { id: find, type: http.request, url: "${echoUrl}/find?email={{ in.email }}" }
  - id: link
    source: { type: http, key: ${KEY} }
    actions:
      - { id: call, type: http.request, url: "${echoUrl}/{{ in.path }}" }
  - id: tilda
    source: { type: tilda, key: ${KEY} }
    actions: []
  - id: vk
    source: { type: vk, key: ${KEY}, confirmation: abc123 }
    actions: []
`
}

/** Sends one body and reads its run back, probing the event loop meanwhile. */
async function send(url: string, kind: Kind, body: Body): Promise<Sample> {
  const target = `${url}/hooks/${kind.pipeline}/${KEY}${body.query ? `?${body.query}` : ''}`
  const posted = await probed(url, () => call(target, body.body === undefined ? 'GET' : 'POST', body.body, body.contentType ? { 'content-type': body.contentType } : {}))
  const runId = posted.result.headers['x-hookrelay-run']
  const read = typeof runId === 'string' ? await probed(url, () => call(`${url}/journal/${runId}`, 'GET', undefined, { authorization: `Bearer ${TOKEN}` })) : undefined
  return { ms: posted.ms, stallMs: posted.stallMs, readStallMs: read?.stallMs ?? Number.NaN, status: posted.result.status }
}

/** Runs `work` while a probe asks for an unknown path every PROBE_MS; the probe's longest wait is the stall. */
async function probed<T>(url: string, work: () => Promise<T>): Promise<{ result: T; ms: number; stallMs: number }> {
  let stallMs = 0
  let done = false
  const probe = (async () => {
    while (!done && !exited) {
      const started = performance.now()
      await call(`${url}/hooks/probe-none`, 'GET').catch(() => undefined)
      stallMs = Math.max(stallMs, performance.now() - started)
      await new Promise((r) => setTimeout(r, PROBE_MS))
    }
  })()
  const started = performance.now()
  try {
    const result = await work()
    return { result, ms: performance.now() - started, stallMs }
  } finally {
    done = true
    await probe
  }
}

/** REPEATS of the nastiest body, each distinct; the server's RSS before and after (after a pause for its GC). */
async function repeatNastiest(url: string, pid: number): Promise<{ beforeMb: number; afterMb: number; peakMb: number; worstStallMs: number }> {
  const kind = KINDS[0]!
  const beforeMb = rssMb(pid)
  let peakMb = beforeMb
  let worstStallMs = 0
  for (let i = 0; i < REPEATS && !exited; i++) {
    const sample = await send(url, kind, kind.nasty(1000 + i))
    worstStallMs = Math.max(worstStallMs, sample.stallMs, sample.readStallMs)
    peakMb = Math.max(peakMb, rssMb(pid))
  }
  // V8 gives memory back lazily: wait (boundedly) for the resident size to settle.
  let afterMb = rssMb(pid)
  for (let i = 0; i < 20 && !exited && afterMb - beforeMb > RSS_LIMIT_MB; i++) {
    await new Promise((r) => setTimeout(r, 500))
    await call(`${url}/hooks/probe-none`, 'GET').catch(() => undefined)
    afterMb = rssMb(pid)
  }
  log(`${REPEATS} × ${kind.name}: RSS ${beforeMb.toFixed(0)} MB -> ${afterMb.toFixed(0)} MB (peak ${peakMb.toFixed(0)} MB), worst stall ${worstStallMs.toFixed(0)} ms`)
  return { beforeMb, afterMb, peakMb, worstStallMs }
}

function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
  } catch {
    return Number.NaN
  }
}

/** The upstream of the URL-template pipelines: answers 200 with a short body. */
function startEcho(): Promise<Server> {
  // Its URLs are as long as the body lets them be: a server refusing them (431) would end the run early.
  const server = createServer({ maxHeaderSize: 4 << 20 }, (req, res) => {
    req.resume()
    req.on('end', () => res.end('{"ok":true}'))
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** hookrelay as the production image runs it; `exited` says so if it stops (a crash is a result here). */
async function startHookrelay(config: string): Promise<{ url: string; pid: number }> {
  let stderr = ''
  const { child, port } = await startListening([...NODE_FLAGS, join(ROOT, 'dist/hookrelay.mjs'), 'serve', '--config', config], HOOKRELAY_LISTENING, process.execPath, (text) => {
    stderr = (stderr + text).slice(-4000)
  })
  hookrelay = child
  child.once('exit', (code, signal) => {
    exited = `exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`
    log(`hookrelay ${exited}`)
  })
  return { url: `http://127.0.0.1:${port}`, pid: child.pid! }
}

function summarize(results: Array<{ kind: Kind; nasty: Sample[]; twin: Sample[] }>, memory: Awaited<ReturnType<typeof repeatNastiest>> | undefined): string {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN
  // A request's stall: the longer of the two (its own, its reading back), at least the probe's interval.
  const stalls = (samples: Sample[]) => samples.map((s) => Math.max(s.stallMs, Number.isNaN(s.readStallMs) ? 0 : s.readStallMs, PROBE_MS))
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED')
  const measured = results.map(({ kind, nasty, twin }) => {
    const ratio = median(stalls(nasty)) / median(stalls(twin))
    const worst = Math.max(...stalls(nasty))
    const statuses = [...new Set(nasty.map((s) => s.status))].join('/')
    return { kind, nasty, twin, ratio, worst, statuses, complete: nasty.length === ROUNDS }
  })
  const rows = measured.map(({ kind, nasty, twin, ratio, worst, statuses }) =>
    `| ${kind.name} | ${statuses} | ${median(nasty.map((s) => s.ms)).toFixed(0)} | ${median(twin.map((s) => s.ms)).toFixed(0)} | ${median(stalls(nasty)).toFixed(0)} | ${worst.toFixed(0)} | ${median(stalls(twin)).toFixed(0)} | ${Math.max(...stalls(twin)).toFixed(0)} | ${ratio.toFixed(2)} × |`,
  )
  const worstRatio = Math.max(...measured.map((m) => m.ratio))
  const worstStall = Math.max(...measured.map((m) => m.worst), memory?.worstStallMs ?? 0)
  const stallsOk = measured.every((m) => m.complete && m.worst <= STALL_LIMIT_MS) && (memory?.worstStallMs ?? Infinity) <= STALL_LIMIT_MS
  const cpu = cpus()
  const rss = memory ? memory.afterMb - memory.beforeMb : Number.NaN
  return `# Hostile bodies benchmark

Produced by \`npm run bench:hostile\` on ${new Date().toISOString().slice(0, 10)}. Each body is sent ${ROUNDS} times, interleaved
with its twin (the same size with plain names, or without the trigger), one request at a time. A request's stall
is the longest an unknown path waited for its 404 (the event loop's own answer), probed every ${PROBE_MS} ms, while the
request was under way or while its run was read back (GET /journal/<id>), at least the probe's interval. The
ratio compares the medians of the stalls (a collection of garbage can land on either side); the worst stall is
held to the absolute bound. hookrelay runs as the production image runs it (the \`dist/\` bundle, ${NODE_FLAGS.join(' ')}).

Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}.${exited ? `\n\n**hookrelay ${exited}**` : ''}

| body | answer | request ms (median) | twin ms (median) | stall ms (median) | stall ms (worst) | twin stall ms (median) | twin stall ms (worst) | stall ratio |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

${memory ? `${REPEATS} more of the first kind, each distinct: RSS ${memory.beforeMb.toFixed(0)} MB before, ${memory.afterMb.toFixed(0)} MB after (peak ${memory.peakMb.toFixed(0)} MB); worst stall among them ${memory.worstStallMs.toFixed(0)} ms.` : 'The memory test did not run: hookrelay had stopped.'}

| target | measured | |
|---|---|---|
| no crash | ${exited ? exited : 'none'} | ${verdict(!exited)} |
| stall ratio ≤ 2 × the twin's, every kind | worst ${worstRatio.toFixed(2)} × | ${verdict(worstRatio <= 2)} |
| no stall over ${STALL_LIMIT_MS} ms | worst ${worstStall.toFixed(0)} ms | ${verdict(stallsOk)} |
| RSS within ${RSS_LIMIT_MB} MB after ${REPEATS} | ${Number.isNaN(rss) ? 'not measured' : `${rss >= 0 ? '+' : ''}${rss.toFixed(0)} MB`} | ${verdict(rss <= RSS_LIMIT_MB)} |
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
