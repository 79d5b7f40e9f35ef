/**
 * `npm run bench:binary`: the single binary against `node dist/hookrelay.mjs` (the npm install
 * and the earlier image): its size, and cold start from spawn to the first 200 from /healthz,
 * interleaved, ROUNDS each. The bundle runs twice: on this machine's Node (what an npm install
 * runs), and on the binary's own Node 24 (with the same SQLite library, in a node_modules made
 * for it), which tells the packaging's share from Node's. Also the memory each holds once
 * started, and the binary's very first start (when it writes its SQLite library to its cache).
 *
 * Writes its section of bench/RESULTS.md between the markers below (npm run bench keeps it).
 */
import { execFileSync, spawn } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { SECTION_END, SECTION_START } from './binary-section.js'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15)
const ROOT = new URL('..', import.meta.url).pathname

interface Start {
  ms: number
  rssMb: number
}

const dir = mkdtempSync(join(tmpdir(), 'hookrelay-bench-binary-'))
const binary = join(ROOT, 'dist/hookrelay')
const bundle = join(ROOT, 'dist/hookrelay.mjs')

/** Spawns `command`, polls /healthz every 2 ms until it answers 200; the time, and its RSS then. */
async function coldStart(command: string[], home: string, i: number): Promise<Start> {
  const port = 21000 + Math.floor(Math.random() * 20000)
  const config = join(dir, `config-${i}.yaml`)
  writeFileSync(config, `server: { host: 127.0.0.1, port: ${port} }\njournal: { path: ${join(dir, `journal-${i}.db`)} }\npipelines:\n  - { id: p, source: { type: http, key: bench-key-0123456789 }, actions: [] }\n`)
  const started = performance.now()
  const child = spawn(command[0]!, [...command.slice(1), 'serve', '--config', config], { env: { PATH: process.env['PATH'], HOME: home }, stdio: ['ignore', 'ignore', 'inherit'] })
  let exited = false
  const exit = new Promise((r) => child.once('exit', r)).then(() => (exited = true))
  try {
    for (let tries = 0; ; tries++) {
      if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break
      if (exited || tries > 5000) throw new Error(`${command.join(' ')} did not start`)
      await new Promise((r) => setTimeout(r, 2))
    }
    const ms = performance.now() - started
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
    return { ms, rssMb: Number(rss?.[1] ?? 0) / 1024 }
  } finally {
    child.kill('SIGTERM')
    await exit
  }
}

/** dist/ beside a node_modules of links to the project's, but for better-sqlite3 with the addon built for Node 24. */
function bundleForNode24(addon: string): string {
  const app = join(dir, 'node24-app')
  cpSync(join(ROOT, 'dist/hookrelay.mjs'), join(app, 'dist/hookrelay.mjs'))
  cpSync(join(ROOT, 'dist/sql-worker.mjs'), join(app, 'dist/sql-worker.mjs'))
  mkdirSync(join(app, 'node_modules'))
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === 'better-sqlite3' || name.startsWith('.')) continue
    symlinkSync(join(ROOT, 'node_modules', name), join(app, 'node_modules', name))
  }
  cpSync(join(ROOT, 'node_modules/better-sqlite3'), join(app, 'node_modules/better-sqlite3'), { recursive: true })
  cpSync(addon, join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))
  return join(app, 'dist/hookrelay.mjs')
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const mb = (bytes: number) => (bytes / 1048576).toFixed(1)

async function main(): Promise<void> {
  process.stderr.write('building dist/hookrelay.mjs and dist/hookrelay ...\n')
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' })
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-binary.mjs')], { stdio: 'inherit' })
  const home = join(dir, 'home')

  const nodeVersion = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim()
  const cache = join(ROOT, 'node_modules/.cache/hookrelay-binary')
  const node24 = join(cache, `node-${/\(Node\.js (v[\d.]+)\)/.exec(nodeVersion)?.[1]}-linux-x64/bin/node`)
  const addon = join(cache, readdirSync(cache).find((name) => /^better_sqlite3-.*\.node$/.test(name))!)
  const bundle24 = bundleForNode24(addon)
  const flags = ['--max-semi-space-size=4', '--max-old-space-size=512']

  const first = await coldStart([binary], home, 0) // writes the library into home/.cache
  const runs: Record<'binary' | 'bundle' | 'bundle24', Start[]> = { binary: [], bundle: [], bundle24: [] }
  for (let i = 1; i <= ROUNDS; i++) {
    runs.bundle.push(await coldStart([process.execPath, ...flags, bundle], home, i))
    runs.bundle24.push(await coldStart([node24, ...flags, bundle24], home, i))
    runs.binary.push(await coldStart([binary], home, i))
  }
  const size = { binary: statSync(binary).size, bundle: statSync(bundle).size }
  const ms = { binary: median(runs.binary.map((r) => r.ms)), bundle: median(runs.bundle.map((r) => r.ms)), bundle24: median(runs.bundle24.map((r) => r.ms)) }
  const rss = { binary: median(runs.binary.map((r) => r.rssMb)), bundle: median(runs.bundle.map((r) => r.rssMb)), bundle24: median(runs.bundle24.map((r) => r.rssMb)) }
  const range = (rs: Start[]) => `${Math.min(...rs.map((r) => r.ms)).toFixed(0)}–${Math.max(...rs.map((r) => r.ms)).toFixed(0)} ms`
  const section = `${SECTION_START}
## The single binary (npm run bench:binary)

Produced by \`npm run bench:binary\` on ${new Date().toISOString().slice(0, 10)}: cold start is the time from spawn to
the first 200 from \`/healthz\` (polled every 2 ms), a config with one pipeline and a new journal
each time; ${ROUNDS} starts of each, interleaved; the median. Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'},
Linux ${release()}. The bundle runs on this machine's Node ${process.version}, as \`npm start\` runs it, with
node_modules beside it; the binary is \`${nodeVersion}\`, alone.

| | size | cold start (median) | range | RSS once started (median) |
|---|---|---|---|---|
| \`node dist/hookrelay.mjs\`, Node ${process.version} (baseline) | ${mb(size.bundle)} MB + node_modules + Node | ${ms.bundle.toFixed(0)} ms | ${range(runs.bundle)} | ${rss.bundle.toFixed(0)} MB |
| the same bundle on the binary's Node | the same | ${ms.bundle24.toFixed(0)} ms (${(ms.bundle24 / ms.bundle).toFixed(2)} ×) | ${range(runs.bundle24)} | ${rss.bundle24.toFixed(0)} MB |
| \`dist/hookrelay\` (single binary) | ${mb(size.binary)} MB, nothing else | ${ms.binary.toFixed(0)} ms (${(ms.binary / ms.bundle).toFixed(2)} ×; ${(ms.binary / ms.bundle24).toFixed(2)} × the same Node) | ${range(runs.binary)} | ${rss.binary.toFixed(0)} MB |

The binary's first start on a machine, when it also writes its 2 MB SQLite library to the cache
folder: ${first.ms.toFixed(0)} ms. Most of its size is Node itself (the \`node\` executable it is made
from is ${mb(statSync(node24).size)} MB). What the binary adds is V8's code cache (the script is not
parsed at start, hence the faster start) and the whole script and the library held in memory.
${SECTION_END}`
  const path = join(ROOT, 'bench/RESULTS.md')
  const results = readFileSync(path, 'utf8')
  const at = results.indexOf(SECTION_START)
  const end = results.indexOf(SECTION_END)
  writeFileSync(path, at >= 0 && end > at ? results.slice(0, at) + section + results.slice(end + SECTION_END.length) : `${results.trimEnd()}\n\n${section}\n`)
  process.stdout.write(`${section}\n`)
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }))
