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

async function start(pipelines: string, env: NodeJS.ProcessEnv = {}): Promise<Setup> {
  const dir = folder()
  const path = join(dir, 'config.yaml')
  const write = (yaml: string) => writeFileSync(path, head(dir) + yaml)
  write(pipelines)
  const server = await serve(['--config', path], { cwd: dir, env })
  return { dir, path, server, write }
}

/** Two steps: `call` to `upstream`, then `then` to `upstream` + "-then". */
const pipeline = (id: string, upstream: string) => `  - id: ${id}
    source: { type: http, key: reload-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${upstream}", method: POST, body: { json: { n: "{{ in.n }}" } } }
      - { id: then, type: http.request, url: "${upstream}-then", method: POST, body: { json: { n: "{{ in.n }}" } } }
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

    // A run in flight on the first config, held in its first step.
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
    expect(upstream.requests.at(-1)!.path).toBe('/extra-then')

    // The run that started on the first config finishes on it: its second step goes where the first config said.
    hold!()
    expect((await slow).status).toBe(200)
    expect(upstream.requests.filter((r) => JSON.parse(r.body).n === 'slow').map((r) => r.path)).toEqual(['/a', '/a-then'])
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
    expect(upstream.requests.at(-1)!.path).toBe('/b-then')
  })

  it('masks the secrets a reloaded config brings, in the journal and the log', async () => {
    const secret = 'reload-added-secret-5e1f9a7c3b'
    const upstream = await keep(startStub((req, res) => json(res, 500, { echoed: req.headers['x-pass'] }))) // echoes it back, and fails
    const setup = await start(`pipelines:\n${pipeline('lead', `${upstream.url}/a`)}`, { UPSTREAM_PASS: secret })
    setup.write(`pipelines:
  - id: lead
    source: { type: http, key: reload-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${upstream.url}/b", method: POST, headers: { X-Pass: "\${UPSTREAM_PASS}" }, body: { json: {} } }
`)
    setup.server.child.kill('SIGHUP')
    await logged(setup.server, 'config reloaded')
    const res = await fetch(`${setup.server.address}/hooks/lead/reload-key-0123456789`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(res.status).toBe(502)
    expect(upstream.requests.at(-1)!.headers['x-pass']).toBe(secret) // it was sent
    const db = new Database(join(setup.dir, 'journal.db'), { readonly: true })
    const kept = JSON.stringify(db.prepare('SELECT * FROM runs').all()) + JSON.stringify(db.prepare('SELECT * FROM steps').all())
    db.close()
    expect(kept).toMatch(/echoed\W+\*\*\*/)
    for (const text of [kept, setup.server.output(), await res.text()]) expect(text).not.toContain(secret.slice(0, 12))
  })

  it('logs the settings that need a restart and keeps them, without judging what it does not apply', async () => {
    const upstream = await keep(startStub())
    const setup = await start(`pipelines:\n${pipeline('lead', `${upstream.url}/a`)}`)
    // A new host and the example's demo token: both wait for a restart, so the reload is not refused for them.
    const next = head(setup.dir, '1')
      .replace('shutdown_grace: 30s', 'shutdown_grace: 5s')
      .replace('host: 127.0.0.1', 'host: 0.0.0.0')
      .replace('reload-journal-token-0123456789', 'local-dev-token-change-me')
    writeFileSync(setup.path, `${next}pipelines:\n${pipeline('lead', `${upstream.url}/a`)}`)
    setup.server.child.kill('SIGHUP')
    await logged(setup.server, 'changed in the file but kept until a restart: server.host, server.port, server.shutdown_grace, journal.token')
    expect((await fetch(`${setup.server.address}/healthz`)).status).toBe(200)
    const journal = await fetch(`${setup.server.address}/journal`, { headers: { authorization: 'Bearer reload-journal-token-0123456789' } })
    expect(journal.status).toBe(200) // the running token still opens it
  })

  it('keeps a poller that asks the same thing (no extra poll, its schedule stays); a changed one polls at once', async () => {
    const vk = await keep(startStub((_req, res) => json(res, 200, { items: [], count: 0 })))
    const source = (interval: string) => `    source: { type: vk_ads.leads, token: vk-ads-token-0123456789, interval: ${interval}, base_url: "${vk.url}" }`
    const polling = (interval: string, crm: string) => `pipelines:
  - id: ads
${source(interval)}
    actions:
      - { id: crm, type: http.request, url: "${crm}", body: { json: {} } }
`
    const setup = await start(polling('1h', 'http://127.0.0.1:9/a'))
    await expect.poll(() => vk.requests.length).toBe(1) // the first poll, at start
    setup.write(polling('1h', 'http://127.0.0.1:9/b')) // new actions, the same source
    setup.server.child.kill('SIGHUP')
    await logged(setup.server, 'config reloaded')
    await new Promise((r) => setTimeout(r, 300))
    expect(vk.requests).toHaveLength(1)
    setup.write(polling('2h', 'http://127.0.0.1:9/b')) // the source changed
    setup.server.child.kill('SIGHUP')
    await logged(setup.server, 'config reloaded', 2)
    await expect.poll(() => vk.requests.length).toBe(2)
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
