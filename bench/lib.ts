/** What the benches share: the load generator, the bench servers' bundle, starting servers, CPU from /proc. */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

export const ROOT = new URL('..', import.meta.url).pathname

/** wrk's path (`apt-get install wrk`), or undefined. */
export const WRK = process.env['WRK'] ?? ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p))

/** The heap flags the Dockerfile and `npm start` run with. */
export const NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=512']

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
 * Starts `node args` from the checkout and resolves with its port once its output matches
 * `listening` (whose first group is the port); its output is drained after that.
 */
export function startListening(args: string[], listening: RegExp): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
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
