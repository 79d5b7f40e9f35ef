/**
 * Changing the config without a restart: SIGHUP (or `hookrelay reload`) on a real server
 * process, under load. And the second signal during a shutdown.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { run, serversAfterEach, type Served } from '../helpers/process.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()
const { folder, serve } = serversAfterEach('hookrelay-reload-')

interface Setup {
  dir: string
  path: string
  server: Served
  write(yaml: string): void
}

const head = (dir: string, port = '${PORT:-0}') => `server:
  host: 127.0.0.1
  port: ${port}
  shutdown_grace: 30s
journal: { path: ${join(dir, 'journal.db')}, token: reload-journal-token-0123456789 }
`

async function start(pipelines: string): Promise<Setup> {
  const dir = folder()
  const path = join(dir, 'config.yaml')
  const write = (yaml: string) => writeFileSync(path, head(dir) + yaml)
  write(pipelines)
  const server = await serve(['--config', path], { cwd: dir })
  return { dir, path, server, write }
}

const pipeline = (id: string, upstream: string) => `  - id: ${id}
    source: { type: http, key: reload-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${upstream}", method: POST, body: { json: { n: "{{ in.n }}" } } }
`

/** Waits until the server's output has `text` `times` times (bounded). */
async function logged(server: Served, text: string, times = 1): Promise<void> {
  await expect.poll(() => server.output().split(text).length - 1, { timeout: 10_000 }).toBeGreaterThanOrEqual(times)
}

describe('reload on SIGHUP', () => {
  it('replaces the pipelines for new requests at once, refusing none, while runs in flight finish on theirs', async () => {
    let hold: (() => void) | undefined
    const held = new Promise<void>((r) => (hold = r))
    const upstream = await keep(
      startStub(async (req, res) => {
        if (JSON.parse(req.body).n === 'slow') await held
        json(res, 200, { path: req.path })
      }),
    )
    const setup = await start(`pipelines:\n${pipeline('lead', `${upstream.url}/a`)}`)
    const { server } = setup
    const post = (id: string, n: string) => fetch(`${server.address}/hooks/${id}/reload-key-0123456789`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) })

    // A run in flight on the first config.
    const slow = post('lead', 'slow')
    slow.catch(() => {}) // awaited below; this only keeps a failed assertion above from also reporting it unhandled
    await expect.poll(() => upstream.requests.length).toBe(1)

    // Requests one after another, while the config changes five times under them.
    const statuses: number[] = []
    let loading = true
    const load = (async () => {
      for (let i = 0; loading && i < 3000; i++) statuses.push((await post('lead', String(i))).status)
    })()
    for (let reload = 1; reload <= 5; reload++) {
      // A few requests answered on each config before the next change, however slow the machine.
      const answered = statuses.length
      await expect.poll(() => statuses.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(answered + 4)
      const path = reload % 2 === 1 ? '/b' : '/a'
      setup.write(`pipelines:\n${pipeline('lead', `${upstream.url}${path}`)}${reload === 5 ? pipeline('extra', `${upstream.url}/extra`) : ''}`)
      server.child.kill('SIGHUP')
      await logged(server, 'config reloaded', reload)
    }
    const answered = statuses.length
    await expect.poll(() => statuses.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(answered + 4)
    loading = false
    await load
    expect(statuses.length).toBeGreaterThanOrEqual(24)
    expect(statuses.filter((s) => s !== 200)).toEqual([])

    // New requests run on the last config: /b, and the pipeline it added.
    const before = upstream.requests.length
    expect((await post('lead', 'after')).status).toBe(200)
    expect(upstream.requests[before]!.path).toBe('/b')
    expect((await post('extra', 'x')).status).toBe(200)
    expect(upstream.requests.at(-1)!.path).toBe('/extra')

    // The run that started on the first config finishes on it.
    hold!()
    expect((await slow).status).toBe(200)
    expect(upstream.requests[0]!.path).toBe('/a')
    expect(server.child.exitCode).toBe(null) // SIGHUP never stops it
  })

  it('keeps the running config when the file is invalid, and says what is wrong; hookrelay reload does the same', async () => {
    const upstream = await keep(startStub())
    const setup = await start(`pipelines:\n${pipeline('lead', `${upstream.url}/a`)}`)
    const { server, path, dir } = setup
    const post = () => fetch(`${server.address}/hooks/lead/reload-key-0123456789`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":"1"}' })

    setup.write('pipelines:\n  - id: lead\n    source: { type: http, key: "reload-key-0123456789 }\n    actions: []\n')
    server.child.kill('SIGHUP')
    await logged(server, 'reload refused: the config has problems; the running config stays')
    expect(server.output()).toContain(`${path}:8:32 pipelines[0].source: this value's double quote is never closed`)
    expect((await post()).status).toBe(200)

    const cli = await run(['reload', '--config', path], { cwd: dir })
    expect(cli.code).toBe(1)
    expect(cli.stderr).toContain("this value's double quote is never closed")

    setup.write(`pipelines:\n${pipeline('lead', `${upstream.url}/b`)}`)
    const fixed = await run(['reload', '--config', path], { cwd: dir })
    expect(fixed.code).toBe(0)
    expect(fixed.stdout).toBe(`asked hookrelay (pid ${server.child.pid}, journal ${join(dir, 'journal.db')}) to reload ${path}; its log says "config reloaded" when done\n`)
    await logged(server, 'config reloaded')
    expect((await post()).status).toBe(200)
    expect(upstream.requests.at(-1)!.path).toBe('/b')
  })

  it('logs the settings that need a restart and keeps them', async () => {
    const upstream = await keep(startStub())
    const setup = await start(`pipelines:\n${pipeline('lead', `${upstream.url}/a`)}`)
    writeFileSync(setup.path, head(setup.dir, '1').replace('shutdown_grace: 30s', 'shutdown_grace: 5s') + `pipelines:\n${pipeline('lead', `${upstream.url}/a`)}`)
    setup.server.child.kill('SIGHUP')
    await logged(setup.server, 'changed in the file but kept until a restart: server.port, server.shutdown_grace')
    expect((await fetch(`${setup.server.address}/healthz`)).status).toBe(200)
  })
})

describe('a second SIGTERM during shutdown', () => {
  it('stops the runs in flight at once, records them failed and answers 503, then exits 0', async () => {
    const upstream = await keep(startStub(() => new Promise(() => {}))) // never answers
    const setup = await start(`pipelines:\n${pipeline('lead', `${upstream.url}/a`)}`)
    const { server } = setup
    const inflight = fetch(`${server.address}/hooks/lead/reload-key-0123456789`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":"1"}' })
    await expect.poll(() => upstream.requests.length).toBe(1)

    server.child.kill('SIGTERM')
    await logged(server, 'shutting down')
    const asked = Date.now()
    server.child.kill('SIGTERM')
    await logged(server, 'asked again to stop')
    expect((await inflight).status).toBe(503)
    expect(await server.exited).toBe(0)
    expect(Date.now() - asked).toBeLessThan(10_000) // not the 30 s grace period
    const db = new Database(join(setup.dir, 'journal.db'), { readonly: true })
    expect(db.prepare('SELECT status, error FROM runs').all()).toEqual([{ status: 'failed', error: "step 'call': the run was stopped: the server is shutting down" }])
    db.close()
  })
})
