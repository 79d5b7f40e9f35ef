/**
 * `npm run bench:client`: what hookrelay's outgoing HTTP client (src/http/client.ts: a deadline,
 * retries, a capped read, an abort signal per call) costs per call against a plain undici
 * `request` through a keep-alive Pool, the forwarder's way. Both call the same bare node:http
 * target (its own process) from this process, 50 calls in flight, BENCH_CALLS calls a round,
 * rounds interleaved; CPU per call is this process's user + system time (process.cpuUsage).
 */
import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { Pool, request } from 'undici'
import { createHttpClient, type HttpCall } from '../src/http/client.js'
import { parseStatusPattern } from '../src/http/status-pattern.js'
import { bundleServers, SERVER_LISTENING, startListening } from './lib.js'

const CALLS = Number(process.env['BENCH_CALLS'] ?? 40_000)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5)
const IN_FLIGHT = 50
const BODY = JSON.stringify({ id: '121161653', email: 'ivan.petrov@example.com', first_name: 'Иван', comment: 'x'.repeat(300) })

/** Runs `call` CALLS times, IN_FLIGHT at once; µs of CPU and of wall time per call. */
async function measure(call: () => Promise<unknown>): Promise<{ cpuUs: number; wallUs: number }> {
  let next = 0
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < CALLS) await call()
    }),
  )
  const used = process.cpuUsage(cpu)
  return { cpuUs: (used.user + used.system) / CALLS, wallUs: ((performance.now() - started) * 1000) / CALLS }
}

async function main(): Promise<void> {
  const servers = await bundleServers()
  let target: ChildProcess | undefined
  try {
    const started = await startListening([join(servers, 'target.mjs')], SERVER_LISTENING)
    target = started.child
    const url = new URL(`http://127.0.0.1:${started.port}/`)
    const pool = new Pool(url.origin, { keepAliveTimeout: 60_000 })
    const { http, close } = createHttpClient()
    const call: HttpCall = { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: BODY, timeoutMs: 10_000, retries: 2, success: parseStatusPattern('2**') }
    const systems: Record<string, () => Promise<unknown>> = {
      'undici request, Pool': async () => {
        const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, dispatcher: pool })
        return res.body.text()
      },
      'hookrelay HttpClient.send': () => http.send(call),
    }
    const results = new Map<string, Array<{ cpuUs: number; wallUs: number }>>()
    for (let round = 0; round <= ROUNDS; round++) {
      const names = Object.keys(systems)
      for (const name of round % 2 === 0 ? names : names.reverse()) {
        const r = await measure(systems[name]!)
        if (round > 0) results.set(name, [...(results.get(name) ?? []), r]) // round 0 warms up
        process.stderr.write(`${round === 0 ? 'warm-up' : `round ${round}`} ${name}: ${r.cpuUs.toFixed(1)} µs CPU/call, ${r.wallUs.toFixed(1)} µs wall/call\n`)
      }
    }
    const mean = (name: string, key: 'cpuUs' | 'wallUs') => results.get(name)!.reduce((s, r) => s + r[key], 0) / ROUNDS
    const [plain, ours] = Object.keys(systems) as [string, string]
    process.stdout.write(
      `\n| client | CPU µs/call | wall µs/call |\n|---|---|---|\n` +
        `| ${plain} | ${mean(plain, 'cpuUs').toFixed(1)} | ${mean(plain, 'wallUs').toFixed(1)} |\n` +
        `| ${ours} | ${mean(ours, 'cpuUs').toFixed(1)} | ${mean(ours, 'wallUs').toFixed(1)} |\n` +
        `\nhookrelay/plain: ${(mean(ours, 'cpuUs') / mean(plain, 'cpuUs')).toFixed(2)}× CPU per call (${ROUNDS} interleaved rounds of ${CALLS} calls, ${IN_FLIGHT} in flight)\n`,
    )
    await Promise.all([pool.close(), close()])
  } finally {
    target?.kill('SIGTERM')
    rmSync(servers, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
