/**
 * Starts the real service on 127.0.0.1:0 from a YAML string written to a temporary folder,
 * with its journal there too. `call` and `journal` talk to it over real HTTP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { startService, type RunningService, type StartOptions as ServiceOptions } from '../../src/app.js'

export const TOKEN = 'test-journal-token-0123456789'
/** The URL key the examples take from HOOK_KEY, in tests. */
export const EXAMPLE_KEY = 'example-hook-key-5f2a9c1e7b3d'

export interface TestService {
  url: string
  dir: string
  dbPath: string
  service: RunningService
  /** Every log line the service wrote. */
  logs: string[]
  call(path: string, init?: RequestInit): Promise<Response>
  /** GET on the journal API with the test token; parses JSON. */
  journal(path?: string): Promise<any>
  /** Closes and removes the folder. */
  close(): Promise<void>
  /** Stops the service but keeps its folder (and journal), for a restart. */
  stop(): Promise<void>
}

/** `yaml` is the pipelines part and anything else; server and journal sections are added unless present. */
export interface StartOptions {
  env?: NodeJS.ProcessEnv
  /** The journal token; null leaves the journal API off. */
  token?: string | null
  /** Start over an existing folder (its journal.db), as a restart does. */
  dir?: string
  /** Passed on to the service: the journal writer's bounds, what to do when it cannot go on. */
  service?: Pick<ServiceOptions, 'writer' | 'onFatal'>
}

export async function startHookrelay(yaml: string, options: StartOptions = {}): Promise<TestService> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'hookrelay-test-'))
  const dbPath = join(dir, 'journal.db')
  const head = [
    yaml.includes('server:') ? '' : 'server:\n  host: 127.0.0.1\n  port: 0\n',
    yaml.includes('journal:') ? '' : `journal:\n  path: ${dbPath}\n${options.token === null ? '' : `  token: ${options.token ?? TOKEN}\n`}`,
  ].join('')
  const configPath = join(dir, 'config.yaml')
  writeFileSync(configPath, head + yaml)
  return startFromFile(configPath, dir, dbPath, options.env ?? {}, options.token ?? TOKEN, options.service)
}

/**
 * Starts a complete config file (an example) as it is, on 127.0.0.1:0, with its journal in a
 * temporary folder: the examples take HOST, PORT, JOURNAL_PATH, JOURNAL_TOKEN and HOOK_KEY from the environment.
 */
export async function startExample(configPath: string, env: NodeJS.ProcessEnv = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-example-'))
  const dbPath = join(dir, 'journal.db')
  return startFromFile(configPath, dir, dbPath, { HOST: '127.0.0.1', PORT: '0', JOURNAL_PATH: dbPath, JOURNAL_TOKEN: TOKEN, HOOK_KEY: EXAMPLE_KEY, ...env })
}

async function startFromFile(
  configPath: string,
  dir: string,
  dbPath: string,
  env: NodeJS.ProcessEnv,
  token: string | null = TOKEN,
  more: StartOptions['service'] = {},
): Promise<TestService> {
  const logs: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      cb()
    },
  })
  const service = await startService({ configPath, env, log: { destination, level: 'debug' }, letters: { retryBaseMs: 200, sendTimeoutMs: 1000 }, ...more })
  const url = service.address
  return {
    url,
    dir,
    dbPath,
    service,
    logs,
    call: (path, init) => fetch(url + path, init),
    async journal(path = "") {
      const res = await fetch(`${url}/journal${path}`, { headers: { authorization: `Bearer ${token}` } })
      if (res.status !== 200) throw new Error(`journal ${path}: ${res.status} ${await res.text()}`)
      return res.json()
    },
    async close() {
      await service.close()
      rmSync(dir, { recursive: true, force: true })
    },
    stop: () => service.close(),
  }
}

export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }
}
