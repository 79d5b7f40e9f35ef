/**
 * `npm run bench:profile`: where a request's CPU goes. Runs the production bundle with V8's CPU
 * profiler (--cpu-prof) under wrk load, one system at a time (hookrelay intake and relay, bare
 * Fastify and the Fastify + undici forwarder for comparison), and sums the profile's self time
 * by what the code does: reading the request (HTTP parser, Fastify, JSON), keeping it (the
 * journal record, the hand-off to the writer thread), masking, running actions and calling the
 * upstream, answering, logging, GC, and the rest. Per request answered, in µs of the main
 * thread. Writes bench/RESULTS-profile.md.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { SourceMap } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundleServers, HOOKRELAY_LISTENING, NODE_FLAGS, ORDER_BODY, ROOT, run, SERVER_LISTENING, startListening, WRK, wrkPostScript } from './lib.js'

const SECONDS = Number(process.env['PROFILE_DURATION'] ?? 8)
const CONNECTIONS = 50

/** Where a sampled function belongs, by its script and name; the first match wins. */
const CATEGORIES: Array<[string, (url: string, name: string) => boolean]> = [
  ['GC', (_u, n) => n === '(garbage collector)'],
  ['idle', (_u, n) => n === '(idle)' || n === '(program)'],
  ['logging (pino)', (u) => /pino|sonic-boom|thread-stream|fast-redact|quick-format|safe-stable-stringify/.test(u) || /\/src\/log\.ts/.test(u)],
  ['masking', (u, n) => /\/src\/secrets\//.test(u) || /^(mask|learn|Masker|#?scan|hide)/i.test(n)],
  ['keeping the run (journal record, writer hand-off)', (u, n) => /\/src\/journal\//.test(u) || /postMessage|structuredClone|serialize/i.test(n)],
  ['running actions, calling the upstream', (u) => /\/src\/(pipeline|actions|http\/client)|undici/.test(u)],
  ['reading the request (HTTP parser, Fastify routing, body, JSON)', (u, n) => /_http_server|_http_common|http_parser|fastify|find-my-way|light-my-request|\/src\/sources\/(body|incoming|webhook)/.test(u) || /^(parse|JSON\.parse)$/.test(n)],
  ['answering (reply, headers, socket write)', (u, n) => /_http_outgoing|\/src\/sources\/answer|net\.js|stream_base|writev|writeGeneric/.test(u) || /^(writev|writeBuffer|writeUtf8String|end)$/.test(n)],
  ['node internals (timers, promises, events)', (u) => u.startsWith('node:') || u === ''],
]

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Bundled code is placed by the bundle's source map: the file it came from (src/..., node_modules/...). */
const sourceMaps = new Map<string, SourceMap | undefined>()
function originalFile(frame: ProfileNode['callFrame']): string {
  if (!frame.url.startsWith('file://') || frame.lineNumber < 0) return frame.url
  const path = fileURLToPath(frame.url)
  if (!sourceMaps.has(path)) sourceMaps.set(path, existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : undefined)
  const entry = sourceMaps.get(path)?.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string } | undefined
  return entry?.originalSource ?? frame.url
}

/** PROFILE_TOP=1: also print the functions that took the most self time, per system (to find levers). */
const TOP = process.env['PROFILE_TOP'] === '1'
const top = new Map<string, number>()

/** Self time per category, in µs, for the whole profile. */
function categorize(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const totals = new Map<string, number>()
  const placed = new Map<number, string>()
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame
    if (!placed.has(id)) {
      const file = originalFile(frame)
      placed.set(id, CATEGORIES.find(([, test]) => test(file, frame.functionName))?.[0] ?? 'other hookrelay code')
    }
    const category = placed.get(id)!
    if (TOP) {
      const key = `${category} :: ${frame.functionName || '(anonymous)'} ${originalFile(frame).replace(/^.*node_modules\//, '').replace(/^\.\.\//, '')}`
      top.set(key, (top.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0))
    }
    totals.set(category, (totals.get(category) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  return totals
}

async function profileSystem(name: string, args: string[], path: string, portPattern: RegExp, dir: string): Promise<{ name: string; requests: number; categories: Map<string, number> }> {
  const profileDir = join(dir, name.replace(/\W+/g, '-'))
  mkdirSync(profileDir)
  const { child, port } = await startListening(['--cpu-prof', '--cpu-prof-dir', profileDir, ...NODE_FLAGS, ...args], portPattern)
  const script = wrkPostScript(dir, ORDER_BODY)
  const out = await run(WRK!, ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '-s', script, `http://127.0.0.1:${port}${path}`])
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0) - Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  child.kill('SIGINT') // the profile is written as the process exits
  await new Promise((r) => child.once('exit', r))
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`${name}: no profile written`)
  top.clear()
  const categories = categorize(JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as Profile)
  if (TOP) {
    process.stderr.write(`\n${name}: the functions with the most self time, µs per request\n`)
    for (const [key, us] of [...top].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stderr.write(`  ${(us / requests).toFixed(2).padStart(7)}  ${key}\n`)
  }
  return { name, requests, categories }
}

async function main(): Promise<void> {
  if (!WRK) throw new Error('bench:profile needs wrk: apt-get install wrk')
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' })
  const servers = await bundleServers()
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-profile-'))
  const children: ChildProcess[] = []
  try {
    const target = await startListening([join(servers, 'target.mjs')], SERVER_LISTENING)
    children.push(target.child)
    const targetPort = target.port
    const config = join(dir, 'config.yaml')
    writeFileSync(
      config,
      `server: { host: 127.0.0.1, port: 0 }
journal: { path: ${join(dir, 'profile.db')}, token: profile-journal-token-0123456789 }
pipelines:
  - id: intake
    source: { type: http, key: intake-key-0123456789, methods: [POST] }
    actions: []
  - id: relay
    source: { type: http, key: relay-key-0123456789, methods: [POST] }
    actions:
      - { id: forward, type: http.request, url: "http://127.0.0.1:${targetPort}/", body: { json: "{{ request.body }}" } }
`,
    )
    const results = [
      await profileSystem('fastify (bare)', [join(servers, 'fastify-bare.mjs')], '/', SERVER_LISTENING, dir),
      await profileSystem('hookrelay intake', [join(ROOT, 'dist/hookrelay.mjs'), 'serve', '--config', config], '/hooks/intake/intake-key-0123456789', HOOKRELAY_LISTENING, dir),
      await profileSystem('fastify+undici forward', [join(servers, 'fastify-forward.mjs'), `http://127.0.0.1:${targetPort}/`], '/', SERVER_LISTENING, dir),
      await profileSystem('hookrelay relay', [join(ROOT, 'dist/hookrelay.mjs'), 'serve', '--config', config], '/hooks/relay/relay-key-0123456789', HOOKRELAY_LISTENING, dir),
    ]
    const names = [...CATEGORIES.map(([c]) => c).filter((c) => c !== 'idle'), 'other hookrelay code']
    const per = (r: (typeof results)[number], c: string) => (r.requests > 0 ? (r.categories.get(c) ?? 0) / r.requests : 0)
    const busy = (r: (typeof results)[number]) => names.reduce((n, c) => n + per(r, c), 0)
    const cpu = cpus()
    const report = `# Where a request's CPU goes

Produced by \`npm run bench:profile\` on ${new Date().toISOString().slice(0, 10)}: each system alone under wrk (one thread, ${CONNECTIONS} connections,
${SECONDS} s, a ${Buffer.byteLength(ORDER_BODY)}-byte JSON body), the main thread sampled by V8's CPU profiler (\`--cpu-prof\`), its self time
summed by what the code does, per request answered 2xx. The profiler itself costs some time. The journal's writer thread is not sampled.
Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Linux ${release()}, Node ${process.version}.

| µs per request (main thread) | ${results.map((r) => r.name).join(' | ')} |
|---|${results.map(() => '---|').join('')}
${names.map((c) => `| ${c} | ${results.map((r) => per(r, c).toFixed(1)).join(' | ')} |`).join('\n')}
| **busy, in all** | ${results.map((r) => `**${busy(r).toFixed(1)}**`).join(' | ')} |
| requests answered | ${results.map((r) => r.requests.toLocaleString('en')).join(' | ')} |
`
    writeFileSync(join(ROOT, 'bench/RESULTS-profile.md'), report)
    process.stdout.write(report)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
    rmSync(servers, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
