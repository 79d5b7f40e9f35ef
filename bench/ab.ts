/**
 * `npm run bench:ab -- <git ref>`: one change measured A/B, in one run. A is hookrelay built from
 * the commit `ref` (default HEAD), B from the working tree; each runs as the production image runs
 * it (the dist bundle, NODE_FLAGS), with its own journal (synchronous=FULL) and the same config.
 * wrk (one thread, 50 connections) loads intake (`actions: []`) and relay (one http.request to a
 * bare node:http target) on each in turn, A B then B A, BENCH_ROUNDS rounds of BENCH_DURATION s
 * after a warm-up. Prints each system's req/s, worst p99 and CPU per request (event loop, writer
 * thread) for A and B, and the ratios B/A from the same run, as a Markdown table.
 *
 * BENCH_SYSTEMS=intake (or relay, or answer: intake answering a constant JSON body) chooses. BENCH_FLAGS_B="--max-semi-space-size=8 ..." runs
 * B with those node flags instead of NODE_FLAGS (to measure the heap settings; give HEAD as the
 * ref to compare the flags alone). A lever is kept only when B wins.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleServers, GENERATOR, HOOKRELAY_LISTENING, intakeAndRelay, LEAD_BODY, measure, type Measured, NODE_FLAGS, peakRssMb, ROOT, SERVER_LISTENING, startListening } from './lib.js'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4)
const DURATION = Number(process.env['BENCH_DURATION'] ?? 8)
const SYSTEMS = (process.env['BENCH_SYSTEMS'] ?? 'intake,relay').split(',')
const FLAGS_B = process.env['BENCH_FLAGS_B']?.split(' ').filter(Boolean) ?? NODE_FLAGS
const children: ChildProcess[] = []

/** Builds hookrelay as of `ref` into a folder of node_modules/.cache (so that its imports resolve); returns its bundle. */
function buildRef(ref: string): { bundle: string; commit: string } {
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT, encoding: 'utf8' }).trim()
  const dir = join(ROOT, `node_modules/.cache/hookrelay-ab-${commit}`)
  if (!existsSync(join(dir, 'dist/hookrelay.mjs'))) {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { cwd: ROOT })
    execFileSync(process.execPath, [join(dir, 'scripts/build.mjs')], { stdio: 'inherit' })
  }
  return { bundle: join(dir, 'dist/hookrelay.mjs'), commit }
}

/** Builds the working tree's hookrelay apart from dist/ (which may be in use). */
function buildWorkingTree(): string {
  const out = mkdtempSync(join(ROOT, 'node_modules/.cache/hookrelay-ab-work-'))
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), out], { stdio: 'inherit' })
  return join(out, 'hookrelay.mjs')
}

async function startHookrelay(bundle: string, dir: string, name: string, target: string, flags = NODE_FLAGS): Promise<{ child: ChildProcess; port: number }> {
  const config = join(dir, `${name}.yaml`)
  writeFileSync(
    config,
    `server: { host: 127.0.0.1, port: 0 }
journal: { path: ${join(dir, `${name}.db`)} }
pipelines:
${intakeAndRelay(target)}
  - id: answer
    source: { type: http, key: answer-key-0123456789, methods: [POST], response: { body: '{"ok": true, "message": "Заявка принята"}' } }
    actions: []
`,
  )
  const started = await startListening([...flags, bundle, 'serve', '--config', config], HOOKRELAY_LISTENING)
  children.push(started.child)
  return started
}

async function main(): Promise<void> {
  const ref = process.argv[2] ?? 'HEAD'
  const a = buildRef(ref)
  const b = buildWorkingTree()
  const servers = await bundleServers()
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-ab-'))
  try {
    const target = await startListening([join(servers, 'target.mjs')], SERVER_LISTENING)
    children.push(target.child)
    const targetUrl = `http://127.0.0.1:${target.port}`
    const hookrelay = { a: await startHookrelay(a.bundle, dir, 'a', targetUrl), b: await startHookrelay(b, dir, 'b', targetUrl, FLAGS_B) }
    const results = new Map<string, Measured[]>()
    for (let round = 0; round <= ROUNDS; round++) {
      const order = round % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)
      for (const system of SYSTEMS) {
        for (const side of order) {
          const { child, port } = hookrelay[side]
          const r = await measure(`http://127.0.0.1:${port}/hooks/${system}/${system}-key-0123456789`, round === 0 ? 2 : DURATION, child.pid!, LEAD_BODY)
          if (r.errors > 0 || r.non2xx > 0) throw new Error(`${side.toUpperCase()} ${system}: ${r.errors} errors, ${r.non2xx} non-2xx`)
          if (round > 0) results.set(`${system} ${side}`, [...(results.get(`${system} ${side}`) ?? []), r])
          process.stderr.write(
            `${round === 0 ? 'warm-up' : `round ${round}`} ${system} ${side.toUpperCase()}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms, CPU main ${r.mainCpuUs.toFixed(0)} + writer ${r.otherCpuUs.toFixed(0)} µs/req\n`,
          )
        }
      }
    }
    const rss = { a: peakRssMb(hookrelay.a.child.pid!), b: peakRssMb(hookrelay.b.child.pid!) }
    process.stdout.write(`\n${report(results, a.commit)}\n\nPeak RSS: A ${rss.a.toFixed(0)} MB, B ${rss.b.toFixed(0)} MB (each served both systems).\n`)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    rmSync(dir, { recursive: true, force: true })
    rmSync(servers, { recursive: true, force: true })
    rmSync(join(b, '..'), { recursive: true, force: true })
  }
}

function report(results: Map<string, Measured[]>, commit: string): string {
  const mean = (rs: Measured[], key: keyof Measured) => rs.reduce((s, r) => s + r[key], 0) / rs.length
  const lines = [
    `A = ${commit}, B = the working tree${FLAGS_B === NODE_FLAGS ? '' : ` run with ${FLAGS_B.join(' ')}`}; ${ROUNDS} interleaved rounds × ${DURATION} s, ${GENERATOR}, 50 connections.`,
    '',
    '| system | req/s A | req/s B | B/A | p99 ms A (worst) | p99 ms B (worst) | main µs/req A | main µs/req B | B/A | writer µs/req A | writer µs/req B |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const system of SYSTEMS) {
    const ra = results.get(`${system} a`)!
    const rb = results.get(`${system} b`)!
    const [rpsA, rpsB, mainA, mainB] = [mean(ra, 'rps'), mean(rb, 'rps'), mean(ra, 'mainCpuUs'), mean(rb, 'mainCpuUs')]
    const worst = (rs: Measured[]) => Math.max(...rs.map((r) => r.p99))
    lines.push(
      `| ${system} | ${rpsA.toFixed(0)} | ${rpsB.toFixed(0)} | **${(rpsB / rpsA).toFixed(2)}×** | ${worst(ra)} | ${worst(rb)} | ${mainA.toFixed(0)} | ${mainB.toFixed(0)} | ${(mainB / mainA).toFixed(2)}× | ${mean(ra, 'otherCpuUs').toFixed(0)} | ${mean(rb, 'otherCpuUs').toFixed(0)} |`,
    )
  }
  return lines.join('\n')
}

main().catch((err: unknown) => {
  for (const child of children) child.kill('SIGKILL')
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
