/** Runs hookrelay as a child process, the way an operator does. */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/hookrelay.js', import.meta.url))

/** How to start hookrelay: the checkout's bin (run by this Node, the default), another script, or an executable. */
export interface Launch {
  cwd?: string
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
  /** A JavaScript entry point run by this Node instead of bin/hookrelay.js. */
  bin?: string
  /** An executable started directly (the single binary), instead of a script. */
  exe?: string
  /** The whole command line instead (`npm start`): the command's own arguments are not added. */
  argv?: [string, ...string[]]
  /** Run as this user and group (only a root test runner can). */
  uid?: number
  gid?: number
}

function command(args: string[], options: Launch): [string, string[]] {
  if (options.argv) return [options.argv[0], options.argv.slice(1)]
  return options.exe ? [options.exe, args] : [process.execPath, [options.bin ?? BIN, ...args]]
}

export interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to its end (bounded by `timeoutMs`). */
export function run(args: string[], options: Launch = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(...command(args, options), { cwd: options.cwd ?? ROOT, env: { PATH: process.env['PATH'], ...options.env }, uid: options.uid, gid: options.gid })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`timed out: hookrelay ${args.join(' ')}\n${stdout}\n${stderr}`))
    }, options.timeoutMs ?? 30_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

export interface Served {
  child: ChildProcess
  address: string
  output: () => string
  /** The exit code, once the process has ended. */
  exited: Promise<number | null>
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `hookrelay serve` and waits for its "listening" log line (bounded by `timeoutMs`). */
export function serve(args: string[], options: Launch = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(...command(['serve', ...args], options), {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env['PATH'], ...options.env },
    })
    let out = ''
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`hookrelay did not start:\n${out}`))
    }, options.timeoutMs ?? 30_000)
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({
          child,
          address: m[1]!,
          output: () => out,
          exited,
          stop(signal = 'SIGTERM') {
            child.kill(signal)
            return exited
          },
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`hookrelay exited with ${code} before listening:\n${out}`))
    })
  })
}

/**
 * For tests that start servers in temporary folders: `folder()` makes one and `serve()` starts
 * hookrelay; after each test every server still running is killed (SIGKILL, by its own child
 * handle) and every folder removed.
 */
export function serversAfterEach(prefix: string): { folder(): string; serve(args: string[], options?: Launch): Promise<Served> } {
  const dirs: string[] = []
  const servers: Served[] = []
  afterEach(async () => {
    for (const s of servers.splice(0)) if (s.child.exitCode === null && s.child.signalCode === null) await s.stop('SIGKILL')
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  return {
    folder() {
      const dir = mkdtempSync(join(tmpdir(), prefix))
      dirs.push(dir)
      return dir
    },
    async serve(args, options) {
      const served = await serve(args, options)
      servers.push(served)
      return served
    },
  }
}
