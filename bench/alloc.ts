/**
 * `npm run bench:alloc`: what a request allocates, by the function that allocates it, for
 * intake and relay. Garbage collection is the largest single cost on relay's event loop
 * (bench/RESULTS-profile.md); this says where the garbage comes from. hookrelay runs as the
 * bundle with the inspector on loopback; V8's sampling heap profiler, told to keep the objects
 * already collected, samples while wrk loads one pipeline for ALLOC_DURATION s (default 4).
 * Prints KB per request in all, and the ALLOC_TOP (default 25) functions that allocate the most.
 * Functions V8 inlined count as their caller.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'undici'
import { bundleServers, HOOKRELAY_LISTENING, intakeAndRelay, LEAD_BODY, NODE_FLAGS, ROOT, run, SERVER_LISTENING, startListening, WRK, wrkPostScript } from './lib.js'

const DURATION = Number(process.env['ALLOC_DURATION'] ?? 4)
const TOP = Number(process.env['ALLOC_TOP'] ?? 25)

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: SampleNode[]
}

/** A DevTools protocol session over the inspector's WebSocket. */
async function inspector(url: string): Promise<{ send(method: string, params?: object): Promise<Record<string, unknown>>; close(): void }> {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve)
    ws.addEventListener('error', reject)
  })
  const waiting = new Map<number, (result: Record<string, unknown>) => void>()
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } }
    if (message.id === undefined) return
    if (message.error) throw new Error(message.error.message)
    waiting.get(message.id)?.(message.result ?? {})
    waiting.delete(message.id)
  })
  let id = 0
  return {
    send: (method, params = {}) =>
      new Promise((resolve) => {
        waiting.set(++id, resolve)
        ws.send(JSON.stringify({ id, method, params }))
      }),
    close: () => ws.close(),
  }
}

async function measure(pipeline: string, port: number, inspectorUrl: string, dir: string): Promise<string> {
  const session = await inspector(inspectorUrl)
  try {
    await session.send('HeapProfiler.enable')
    await session.send('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    const out = await run(WRK!, ['-t1', '-c50', `-d${DURATION}s`, '-s', wrkPostScript(dir, LEAD_BODY), `http://127.0.0.1:${port}/hooks/${pipeline}/${pipeline}-key-0123456789`])
    const requests = Number(/(\d+) requests in/.exec(out)?.[1])
    const { profile } = (await session.send('HeapProfiler.stopSampling')) as { profile: { head: SampleNode } }
    const bytes = new Map<string, number>()
    const visit = (node: SampleNode) => {
      const { functionName, url, lineNumber } = node.callFrame
      const name = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
      bytes.set(name, (bytes.get(name) ?? 0) + node.selfSize)
      for (const child of node.children) visit(child)
    }
    visit(profile.head)
    const total = [...bytes.values()].reduce((a, b) => a + b, 0)
    const kb = (n: number) => (n / requests / 1024).toFixed(2)
    const top = [...bytes].sort((a, b) => b[1] - a[1]).slice(0, TOP)
    return [`${pipeline}: ${kb(total)} KB allocated a request (${requests} requests)`, ...top.map(([name, n]) => `${kb(n).padStart(8)} KB  ${name}`)].join('\n')
  } finally {
    session.close()
  }
}

async function main(): Promise<void> {
  if (!WRK) throw new Error('needs wrk: apt-get install wrk')
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' })
  const servers = await bundleServers()
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-alloc-'))
  const children: ChildProcess[] = []
  try {
    const target = await startListening([join(servers, 'target.mjs')], SERVER_LISTENING)
    children.push(target.child)
    const config = join(dir, 'config.yaml')
    writeFileSync(
      config,
      `server: { host: 127.0.0.1, port: 0 }
journal: { path: ${join(dir, 'journal.db')} }
pipelines:
${intakeAndRelay(`http://127.0.0.1:${target.port}`)}
`,
    )
    // The inspector prints its address on stderr; the port 0 lets the system choose it.
    let inspectorUrl = ''
    const hookrelay = await startListening(['--inspect=127.0.0.1:0', ...NODE_FLAGS, join(ROOT, 'dist/hookrelay.mjs'), 'serve', '--config', config], HOOKRELAY_LISTENING, process.execPath, (line) => {
      inspectorUrl ||= /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(line)?.[0] ?? ''
    })
    children.push(hookrelay.child)
    for (let i = 0; i < 40 && !inspectorUrl; i++) await new Promise((r) => setTimeout(r, 50))
    if (!inspectorUrl) throw new Error('the inspector did not say where it listens')
    for (const pipeline of ['intake', 'relay']) process.stdout.write(`${await measure(pipeline, hookrelay.port, inspectorUrl, dir)}\n\n`)
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 300))
    rmSync(dir, { recursive: true, force: true })
    rmSync(servers, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
