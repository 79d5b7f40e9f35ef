/**
 * Crash recovery and replay with real processes: SIGKILL mid-run, restart, the run is
 * `interrupted` with a letter, and `hookrelay replay` runs it again beside the live server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { TOKEN } from '../helpers/hookrelay.js'
import { run, serve, type Served } from '../helpers/process.js'
import { freePort, smtpUrl, startSmtp } from '../helpers/smtp.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()
let dir: string
let served: Served | undefined
afterEach(async () => {
  if (served) await served.stop('SIGKILL')
  served = undefined
  rmSync(dir, { recursive: true, force: true })
})

function writeConfig(upstream: string, smtp: string): string {
  dir = mkdtempSync(join(tmpdir(), 'hookrelay-crash-'))
  const path = join(dir, 'config.yaml')
  writeFileSync(
    path,
    `server: { host: 127.0.0.1, port: 0 }
journal: { path: ${join(dir, 'journal.db')}, token: ${TOKEN} }
notify:
  email: { smtp: "${smtp}", from: hookrelay@school.example, to: [ops@school.example] }
pipelines:
  - id: slow
    name: "Slow CRM"
    source: { type: http, key: slow-key-0123456789 }
    actions:
      - { id: push, type: http.request, url: "${upstream}/push", body: { json: { email: "{{ in.email }}" } }, timeout: 60s }
  - id: strict
    source: { type: http, key: strict-key-0123456789, methods: [POST] }
    actions: []
`,
  )
  return path
}

async function journal(address: string, path: string): Promise<any> {
  const res = await fetch(`${address}/journal${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return res.json()
}

describe('a crash mid-run', () => {
  it('leaves the run interrupted with a letter after restart, and replay runs it again', async () => {
    let hold = true
    const upstream = await keep(
      startStub(async (_req, res) => {
        // While `hold` is set the upstream never answers: the run is stuck mid-call.
        while (hold && !res.destroyed) await new Promise((r) => setTimeout(r, 20))
        json(res, 200, { ok: true })
      }),
    )
    const mailbox = await keep(startSmtp())
    const config = writeConfig(upstream.url, mailbox.url)

    served = await serve(['--config', config])
    const pending = fetch(`${served.address}/hooks/slow/slow-key-0123456789`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ivan@example.com' }),
    }).catch(() => undefined)
    for (let i = 0; i < 500 && upstream.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(upstream.requests).toHaveLength(1)
    await served.stop('SIGKILL')
    await pending

    served = await serve(['--config', config])
    const { runs } = await journal(served.address, '?pipeline=slow')
    expect(runs).toHaveLength(1)
    const interrupted = await journal(served.address, `/${runs[0].id}`)
    expect(interrupted).toMatchObject({
      status: 'interrupted',
      error: "interrupted: the process stopped during step 'push'; its call may or may not have reached the upstream",
    })
    expect(interrupted.steps[0]).toMatchObject({ id: 'push', status: 'failed', request: { method: 'POST', url: `${upstream.url}/push` } })

    const [letter] = await mailbox.waitFor(1)
    expect(letter!.subject).toBe("[hookrelay] slow: run was interrupted at step 'push'")
    expect(letter!.text).toContain(`npx hookrelay replay ${runs[0].id}`)
    expect(upstream.requests).toHaveLength(1) // never re-run on its own

    hold = false
    const replayed = await run(['replay', runs[0].id, '--config', config])
    expect(replayed.stderr).toBe('')
    expect(replayed.code).toBe(0)
    const [, newId] = /^replayed \S+ as (\S+): ok$/m.exec(replayed.stdout) ?? []
    expect(newId).toBeDefined()
    expect(upstream.requests).toHaveLength(2)
    expect(JSON.parse(upstream.requests[1]!.body)).toEqual({ email: 'ivan@example.com' })

    // The live server's journal shows the replay both ways.
    expect(await journal(served.address, `/${newId}`)).toMatchObject({ status: 'ok', replay_of: runs[0].id })
    expect((await journal(served.address, `/${runs[0].id}`)).replays).toEqual([newId])
  })

  it('a failure answered just before the crash still gets its letter after restart', async () => {
    const upstream = await keep(startStub((_req, res) => json(res, 500, { error: 'CRM is down' })))
    const port = await freePort() // no mail server yet: the letter cannot go out before the kill
    const config = writeConfig(upstream.url, smtpUrl(port))

    served = await serve(['--config', config])
    const res = await fetch(`${served.address}/hooks/slow/slow-key-0123456789`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"a@example.com"}' })
    expect(res.status).toBe(502)
    const runId = res.headers.get('x-hookrelay-run')
    await served.stop('SIGKILL') // the instant the caller has its answer

    const mailbox = await keep(startSmtp(port))
    served = await serve(['--config', config])
    const [letter] = await mailbox.waitFor(1, 10_000)
    expect(letter!.subject).toBe("[hookrelay] slow: run failed at step 'push'")
    expect(letter!.text).toContain(`Run: ${runId}`)
  })

  it('SIGTERM lets the run in flight finish, answers it, and exits 0', async () => {
    const upstream = await keep(
      startStub(async (_req, res) => {
        await new Promise((r) => setTimeout(r, 400))
        json(res, 200, { ok: true })
      }),
    )
    const mailbox = await keep(startSmtp())
    const config = writeConfig(upstream.url, mailbox.url)
    served = await serve(['--config', config])
    const pending = fetch(`${served.address}/hooks/slow/slow-key-0123456789`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"a@example.com"}' })
    for (let i = 0; i < 500 && upstream.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    const exited = served.stop('SIGTERM')
    const res = await pending
    expect(res.status).toBe(200)
    expect(await exited).toBe(0)

    served = await serve(['--config', config])
    expect(await journal(served.address, `/${res.headers.get('x-hookrelay-run')}`)).toMatchObject({ status: 'ok' })
    expect(mailbox.letters).toHaveLength(0)
  })

  it('refuses to replay a rejected run, saying why', async () => {
    const upstream = await keep(startStub())
    const mailbox = await keep(startSmtp())
    const config = writeConfig(upstream.url, mailbox.url)
    served = await serve(['--config', config])
    const refused = await fetch(`${served.address}/hooks/strict/strict-key-0123456789`, { method: 'GET' })
    expect(refused.status).toBe(405)
    const id = refused.headers.get('x-hookrelay-run')!

    const result = await run(['replay', id, '--config', config])
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toBe(
      `hookrelay replay: run ${id} was rejected (method GET is not allowed here (allowed: POST)): its request never reached the actions and would be rejected again; fix the sender and let it send again`,
    )
    const missing = await run(['replay', 'no-such-run', '--config', config])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim()).toBe("hookrelay replay: run 'no-such-run' not found")
  })
})
