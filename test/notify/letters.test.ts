/**
 * Failure letters against a real SMTP server: what a letter says (and never says), the digest
 * under a burst, SMTP down or hanging while runs go on, and letters that survive a restart.
 */
import { createServer, type Server, type Socket } from 'node:net'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay, type TestService } from '../helpers/hookrelay.js'
import { freePort, SMTP_AUTH, smtpUrl, startSmtp } from '../helpers/smtp.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

const config = (upstream: string, smtp: string, extra = '') => `
notify:
  email:
    smtp: "${smtp}"
    from: hookrelay@school.example
    to: [ops@school.example]
    min_interval: 2s
pipelines:
  - id: crm
    name: "Leads to CRM"
    source: { type: http, key: crm-key-0123456789 }
    actions:
      - id: push
        type: http.request
        url: "${upstream}/contacts"
        headers: { Authorization: "Bearer \${CRM_TOKEN}" }
        body: { json: { email: "{{ in.email }}" } }
  - id: quiet
    notify: false
    source: { type: http, key: quiet-key-0123456789 }
    actions:
      - { id: push, type: http.request, url: "${upstream}/contacts" }
${extra}`

const CRM_TOKEN = 'crm-canary-token-31337'

describe('a failure letter', () => {
  it('names the pipeline, run, step, error and upstream answer, with the curl to read it, and no secret', async () => {
    const upstream = await keep(startStub((_req, res) => json(res, 422, { message: 'email is invalid', echo: CRM_TOKEN })))
    const mailbox = await keep(startSmtp())
    const hr = await keep(startHookrelay(config(upstream.url, mailbox.url), { env: { CRM_TOKEN } }))
    const res = await hr.call('/hooks/crm/crm-key-0123456789', postJson({ email: 'x@example.com' }))
    expect(res.status).toBe(502)
    const runId = res.headers.get('x-hookrelay-run')!

    const [letter] = await mailbox.waitFor(1)
    expect(letter!.subject).toBe("[hookrelay] crm: run failed at step 'push'")
    expect(letter!.from?.text).toBe('hookrelay@school.example')
    expect(letter!.to).toMatchObject({ text: 'ops@school.example' })
    const body = letter!.text!
    expect(body).toContain('Pipeline: crm (Leads to CRM)')
    expect(body).toContain(`Run: ${runId}`)
    expect(body).toContain('Failed step: push (http.request)')
    expect(body).toContain('Error: upstream answered 422, which is not a success (expected 2**)')
    expect(body).toContain('Upstream status: 422')
    expect(body).toContain('  {"message":"email is invalid","echo":"***"}')
    expect(body).toContain(`curl -H "Authorization: Bearer $JOURNAL_TOKEN" '${hr.url}/journal/${runId}'`)
    expect(body).toContain(`npx hookrelay replay ${runId}`)
    const raw = JSON.stringify(letter)
    for (const secret of [CRM_TOKEN, 'crm-key-0123456789', SMTP_AUTH.pass, 'test-journal-token']) expect(raw).not.toContain(secret)
  })

  it('is not sent for a pipeline with notify: false', async () => {
    const upstream = await keep(startStub((_req, res) => json(res, 500, {})))
    const mailbox = await keep(startSmtp())
    const hr = await keep(startHookrelay(config(upstream.url, mailbox.url), { env: { CRM_TOKEN } }))
    expect((await hr.call('/hooks/quiet/quiet-key-0123456789', postJson({}))).status).toBe(502)
    expect((await hr.call('/hooks/crm/crm-key-0123456789', postJson({ email: 'a@b.c' }))).status).toBe(502)
    const letters = await mailbox.waitFor(1)
    await new Promise((r) => setTimeout(r, 300))
    expect(letters.map((l) => l.subject)).toEqual(["[hookrelay] crm: run failed at step 'push'"])
  })
})

describe('a burst of failures', () => {
  it('sends the first at once and the other 49 as one digest after min_interval', async () => {
    const upstream = await keep(startStub((_req, res) => json(res, 503, { busy: true })))
    const mailbox = await keep(startSmtp())
    const hr = await keep(startHookrelay(config(upstream.url, mailbox.url), { env: { CRM_TOKEN } }))
    const first = await hr.call('/hooks/crm/crm-key-0123456789', postJson({ email: 'first@example.com' }))
    await mailbox.waitFor(1)
    const rest = await Promise.all(Array.from({ length: 49 }, (_, i) => hr.call('/hooks/crm/crm-key-0123456789', postJson({ email: `n${i}@example.com` }))))
    const ids = rest.map((r) => r.headers.get('x-hookrelay-run')!)
    expect(rest.every((r) => r.status === 502)).toBe(true)

    const letters = await mailbox.waitFor(2, 8000)
    expect(letters[0]!.text).toContain(`Run: ${first.headers.get('x-hookrelay-run')}`)
    expect(letters[1]!.subject).toBe('[hookrelay] crm: 49 runs failed')
    for (const id of ids) expect(letters[1]!.text).toContain(id)
    expect(letters[1]!.text).toContain(`curl -H "Authorization: Bearer $JOURNAL_TOKEN" '${hr.url}/journal?pipeline=crm&status=failed'`)
    await new Promise((r) => setTimeout(r, 500))
    expect(mailbox.letters).toHaveLength(2)
  })
})

describe('SMTP trouble', () => {
  it('keeps runs fast while SMTP is down, and delivers the letters once it is back', async () => {
    const upstream = await keep(startStub((_req, res) => json(res, 400, { no: 1 })))
    const port = await freePort()
    const hr = await keep(startHookrelay(config(upstream.url, smtpUrl(port)), { env: { CRM_TOKEN } }))
    const started = Date.now()
    const a = await hr.call('/hooks/crm/crm-key-0123456789', postJson({ email: 'a@example.com' }))
    expect(a.status).toBe(502)
    expect(Date.now() - started).toBeLessThan(2000) // the run never waits for the letter
    await waitForLog(hr, 'failure letter not sent; will retry')

    const mailbox = await keep(startSmtp(port))
    const [letter] = await mailbox.waitFor(1, 8000)
    expect(letter!.text).toContain(`Run: ${a.headers.get('x-hookrelay-run')}`)
  })

  it('sends a letter once while the journal cannot record it, and records it when the journal is back', async () => {
    const upstream = await keep(startStub((_req, res) => json(res, 400, { no: 1 })))
    const port = await freePort()
    const hr = await keep(startHookrelay(config(upstream.url, smtpUrl(port)), { env: { CRM_TOKEN } }))
    await hr.call('/hooks/crm/crm-key-0123456789', postJson({ email: 'a@example.com' }))
    await waitForLog(hr, 'failure letter not sent; will retry') // in the outbox, SMTP down

    const other = new Database(hr.dbPath)
    other.exec('BEGIN IMMEDIATE') // another process holds the write lock: nothing can be recorded
    const mailbox = await keep(startSmtp(port))
    await mailbox.waitFor(1, 8000)
    await waitForLog(hr, 'failure letters could not be sent or recorded; will retry')
    await new Promise((r) => setTimeout(r, 1500)) // more retry passes while the lock is held
    expect(mailbox.letters).toHaveLength(1) // taken once, never sent again
    other.exec('ROLLBACK')
    other.close()

    const sentAt = () => hr.service.db.prepare('SELECT sent_at FROM letters').pluck().get()
    for (let i = 0; i < 100 && !sentAt(); i++) await new Promise((r) => setTimeout(r, 50))
    expect(sentAt()).toEqual(expect.any(String))
    expect(mailbox.letters).toHaveLength(1)
  })

  it('keeps runs fast while SMTP hangs', async () => {
    const upstream = await keep(startStub((_req, res) => json(res, 400, {})))
    const sockets: Socket[] = []
    const hanging: Server = createServer((socket) => void sockets.push(socket)) // accepts, never greets
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()))
    void keep(Promise.resolve({ close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), hanging.close(() => r()))) }))
    const port = (hanging.address() as { port: number }).port
    const hr = await keep(startHookrelay(config(upstream.url, smtpUrl(port)), { env: { CRM_TOKEN } }))
    const started = Date.now()
    for (let i = 0; i < 3; i++) expect((await hr.call('/hooks/crm/crm-key-0123456789', postJson({ email: 'a@b.c' }))).status).toBe(502)
    expect(Date.now() - started).toBeLessThan(2000)
    await waitForLog(hr, 'failure letter not sent; will retry')
  })

  it('sends letters still queued when the server stopped, after a restart', async () => {
    const upstream = await keep(startStub((_req, res) => json(res, 400, {})))
    const port = await freePort()
    const first = await startHookrelay(config(upstream.url, smtpUrl(port)), { env: { CRM_TOKEN } })
    const res = await first.call('/hooks/crm/crm-key-0123456789', postJson({ email: 'a@example.com' }))
    await waitForLog(first, 'failure letter not sent; will retry')
    await first.stop()

    const mailbox = await keep(startSmtp(port))
    const again = await keep(startHookrelay(config(upstream.url, smtpUrl(port)), { env: { CRM_TOKEN }, dir: first.dir }))
    const [letter] = await mailbox.waitFor(1, 8000)
    expect(letter!.text).toContain(`Run: ${res.headers.get('x-hookrelay-run')}`)
    expect(again.dir).toBe(first.dir)
  })
})

async function waitForLog(hr: TestService, message: string, timeoutMs = 8000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!hr.logs.some((l) => l.includes(`"msg":"${message}"`))) {
    if (Date.now() > until) throw new Error(`no log line '${message}'`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
