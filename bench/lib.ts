/** What the benches share: the load generator, the bench servers' bundle, starting servers, CPU from /proc. */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'

export const ROOT = new URL('..', import.meta.url).pathname

/** wrk's path (`apt-get install wrk`), or undefined. */
export const WRK = process.env['WRK'] ?? ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p))

/** Without wrk, autocannon runs the load in a process of its own (see measure). */
export const GENERATOR = WRK ? 'wrk (C, one thread)' : 'autocannon in a process of its own (wrk is not installed: `apt-get install wrk` for truer ceilings)'

/** Connections the load keeps open. */
export const CONNECTIONS = 50

/** The heap flags the Dockerfile and `npm start` run with. */
export const NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=512']

/** An order as a GetCourse process posts it (ORDER_BODY pads it with a comment). */
const ORDER = {
  id: '121161653',
  number: '6543',
  status: 'new',
  positions: 'Курс «Основы Python» — тариф Стандарт',
  cost_money_value: '4990',
  cost_money: '4 990 руб.',
  payment_link: 'https://school.getcourse.ru/sales/shop/dealPay/id/121161653/hash/0a1b2c3d4e',
  created_at: '2026-11-24',
  utm_source: 'vk',
  user_id: '189870964',
  email: 'ivan.petrov@example.com',
  phone: '+79990000000',
  first_name: 'Иван',
  last_name: 'Петров',
  city: 'Москва',
  user: { email: 'ivan.petrov@example.com', id: '189870964' },
}

/** The body `npm run bench` and `bench:profile` post: the order, padded to 550 bytes of JSON. */
export const ORDER_BODY = JSON.stringify({ ...ORDER, comment: 'x'.repeat(550 - Buffer.byteLength(JSON.stringify({ ...ORDER, comment: '' }))) })

/** The body the A/B benches (`bench:ab`, `bench:ab-index`) and `bench:alloc` post: a lead from a form, 477 bytes of JSON. */
export const LEAD_BODY = JSON.stringify({ id: '121161653', number: '6543', email: 'ivan.petrov@example.com', phone: '+79990000000', first_name: 'Иван', last_name: 'Петров', city: 'Москва', comment: 'x'.repeat(300) })

/**
 * The two pipelines the benches load, as YAML list items: intake (`actions: []`) and relay (one
 * http.request forwarding the body to `target`). Keys: `<id>-key-0123456789`.
 */
export function intakeAndRelay(target: string): string {
  return `  - id: intake
    source: { type: http, key: intake-key-0123456789, methods: [POST] }
    actions: []
  - id: relay
    source: { type: http, key: relay-key-0123456789, methods: [POST] }
    actions:
      - { id: forward, type: http.request, url: "${target}/", body: { json: "{{ request.body }}" } }`
}

/** The log line hookrelay writes when listening, with its port. */
export const HOOKRELAY_LISTENING = /"address":"http:\/\/127\.0\.0\.1:(\d+)"/
/** The line a bench server (bench/servers) writes when listening. */
export const SERVER_LISTENING = /"port":(\d+)/

/**
 * Bundles bench/servers/*.ts like dist/ (esbuild, one file each), so that every system runs as
 * plain node without a TypeScript loader and their memory compares fairly with hookrelay's.
 * Inside node_modules/.cache, so that their external imports resolve.
 */
export async function bundleServers(): Promise<string> {
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true })
  const out = mkdtempSync(join(ROOT, 'node_modules/.cache/hookrelay-bench-'))
  await build({
    entryPoints: ['target', 'fastify-bare', 'fastify-forward'].map((name) => join(ROOT, `bench/servers/${name}.ts`)),
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  })
  return out
}

/** Runs a command to its end; resolves with its stdout and stderr, rejects on a non-zero exit. */
export function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}:\n${out}`))))
  })
}

/**
 * Starts `node args` (or `command args`) from the checkout and resolves with its port once its output matches
 * `listening` (whose first group is the port); its output is drained after that. Its stderr goes
 * to ours, or to `onStderr` when given.
 */
export function startListening(
  args: string[],
  listening: RegExp,
  command = process.execPath,
  onStderr?: (text: string) => void,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', onStderr ? 'pipe' : 'inherit'] })
  child.stderr?.on('data', (d: Buffer) => onStderr?.(d.toString()))
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = listening.exec(out)
      if (m) {
        child.stdout!.off('data', onData)
        child.stdout!.resume() // keep draining its log lines
        resolve({ child, port: Number(m[1]) })
      }
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)))
  })
}

/** Writes wrk's Lua script that POSTs `body` as JSON into `dir`; returns its path. */
export function wrkPostScript(dir: string, body: string): string {
  const script = join(dir, 'post.lua')
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`)
  return script
}

/** User + system CPU time of a process or thread, in clock ticks (utime and stime of /proc stat). */
export function cpuTicks(statPath: string): number {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** What one load run measured. */
export interface Load {
  rps: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  ok: number
  /** At most this many were sent: those answered, and those in flight when the load stopped. */
  sent: number
}

export interface Measured extends Load {
  /** CPU time the server spent per request answered: all its threads, its main (event-loop) thread, and its busiest other thread. */
  cpuUs: number
  mainCpuUs: number
  otherCpuUs: number
}

/** POSTs `body` as JSON to `url` for `seconds` at CONNECTIONS connections; the server `pid`'s CPU per request with it. */
export async function measure(url: string, seconds: number, pid: number, body: string): Promise<Measured> {
  const before = { all: cpuTicks(`/proc/${pid}/stat`), threads: threadTicks(pid) }
  const result = WRK ? await wrk(url, seconds, body) : await autocannonProcess(url, seconds, body)
  const after = threadTicks(pid)
  const delta = (tid: string) => (after.get(tid) ?? 0) - (before.threads.get(tid) ?? 0)
  // Node names no thread: the busiest besides the event loop is the journal writer for hookrelay
  // (V8's helpers and libuv's pool share the rest), undici's nothing for the bare servers.
  const other = Math.max(0, ...[...after.keys()].filter((tid) => tid !== String(pid)).map(delta))
  return {
    ...result,
    cpuUs: ticksToUs(cpuTicks(`/proc/${pid}/stat`) - before.all, result.ok),
    mainCpuUs: ticksToUs(delta(String(pid)), result.ok),
    otherCpuUs: ticksToUs(other, result.ok),
  }
}

/** One wrk run: one thread, CONNECTIONS connections, the body by a Lua script. */
async function wrk(url: string, seconds: number, body: string): Promise<Load> {
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-wrk-'))
  try {
    const script = wrkPostScript(dir, body)
    const out = await run(WRK!, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', script, url])
    const number = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN)
    const requests = number(/(\d+) requests in/)
    const non2xx = number(/Non-2xx or 3xx responses: (\d+)/) || 0
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
    const errors = socket ? socket.slice(1).reduce((n, v) => n + Number(v), 0) : 0
    if (Number.isNaN(requests)) throw new Error(`wrk said nothing readable:\n${out}`)
    return { rps: number(/Requests\/sec:\s+([\d.]+)/), p50: latencyMs(out, '50%'), p99: latencyMs(out, '99%'), errors, non2xx, ok: requests - non2xx, sent: requests + CONNECTIONS }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A percentile of wrk's --latency distribution, in ms. */
function latencyMs(out: string, percentile: string): number {
  const m = new RegExp(`^\\s+${percentile}\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out)
  if (!m) return Number.NaN
  const value = Number(m[1])
  return m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value
}

/** autocannon as its own process (never inside this one, which would share its CPU accounting and event loop). */
async function autocannonProcess(url: string, seconds: number, body: string): Promise<Load> {
  const cli = join(ROOT, 'node_modules/autocannon/autocannon.js')
  const out = await run(process.execPath, [cli, '-c', String(CONNECTIONS), '-d', String(seconds), '-m', 'POST', '-H', 'content-type=application/json', '-b', body, '--json', url])
  const result = JSON.parse(out.slice(out.indexOf('{'))) as { requests: { average: number; sent: number }; latency: { p50: number; p99: number }; errors: number; timeouts: number; non2xx: number; '2xx': number }
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.timeouts, non2xx: result.non2xx, ok: result['2xx'], sent: result.requests.sent }
}

/** CPU ticks of each thread of a process, by thread id. */
function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ticks.set(tid, cpuTicks(`/proc/${pid}/task/${tid}/stat`))
    } catch {
      // the thread ended meanwhile
    }
  }
  return ticks
}

/** Ticks are 1/100 s on Linux (USER_HZ); per request, in µs. */
function ticksToUs(ticks: number, requests: number): number {
  return requests > 0 ? (ticks * 10_000) / requests : 0
}

/** Peak resident memory (VmHWM) of a process, in MB. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
}

/** One request on a connection of its own (a kept-alive one may be closed under a stalled server). */
export function call(
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}
