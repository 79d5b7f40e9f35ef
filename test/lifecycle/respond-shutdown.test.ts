/** respond: on_receipt, and graceful shutdown with a run in flight. */
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay, type TestService } from '../helpers/hookrelay.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

/** An upstream that holds every answer until released. */
async function heldUpstream() {
  let release: () => void = () => {}
  const released = new Promise<void>((r) => (release = r))
  const stub = await keep(
    startStub(async (_req, res) => {
      await released
      json(res, 200, { done: true })
    }),
  )
  const arrived = async () => {
    for (let i = 0; i < 500 && stub.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(stub.requests.length).toBeGreaterThan(0)
  }
  return { stub, release, arrived }
}

/** The run once it is no longer `running` (polled for up to 4 s). */
async function ended(hr: TestService, runId: string): Promise<any> {
  let run: any
  for (let i = 0; i < 200; i++) {
    run = await hr.journal(`/${runId}`)
    if (run.status !== 'running') break
    await new Promise((r) => setTimeout(r, 20))
  }
  return run
}

const waiting = (upstream: string, grace = '3s') => `
server: { host: 127.0.0.1, port: 0, shutdown_grace: ${grace} }
pipelines:
  - id: wait
    source: { type: http, key: wait-key-0123456789 }
    actions:
      - { id: push, type: http.request, url: "${upstream}/x", timeout: 30s }
`

describe('respond: on_receipt', () => {
  it('answers before a slow upstream finishes; the run still ends ok in the journal', async () => {
    const up = await heldUpstream()
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: tilda
    source:
      type: http
      key: tilda-key-0123456789
      respond: on_receipt
      response: { body: "ok {{ run.id }}" }
    actions:
      - { id: push, type: http.request, url: "${up.stub.url}/x", body: { form: { name: "{{ in.Name }}" } } }
`),
    )
    const res = await hr.call('/hooks/tilda/tilda-key-0123456789', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Name=%D0%98%D0%B2%D0%B0%D0%BD',
    })
    const runId = res.headers.get('x-hookrelay-run')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(`ok ${runId}`)
    await up.arrived()
    expect((await hr.journal(`/${runId}`)).status).toBe('running') // answered while the upstream still holds

    up.release()
    const run = await ended(hr, runId!)
    expect(run).toMatchObject({ status: 'ok', response: { status: 200, body: `ok ${runId}` } })
    expect(up.stub.requests[0]!.body).toBe('name=%D0%98%D0%B2%D0%B0%D0%BD')
  })

  it('ends the run failed when the answer on receipt cannot be rendered, though its actions succeed', async () => {
    const up = await keep(startStub())
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: tilda
    source: { type: http, key: tilda-key-0123456789, respond: on_receipt, response: { body: "ok {{ in.missing }}" } }
    actions:
      - { id: push, type: http.request, url: "${up.url}/x" }
`),
    )
    const res = await hr.call('/hooks/tilda/tilda-key-0123456789', postJson({ name: 'Иван' }))
    const runId = res.headers.get('x-hookrelay-run')
    expect(res.status).toBe(500)
    expect(await res.json()).toMatchObject({ code: 'HR_RESPONSE_FAILED', error: expect.stringContaining("missing name 'in.missing'") })
    const run = await ended(hr, runId!)
    expect(up.requests).toHaveLength(1) // the actions still ran
    expect(run).toMatchObject({ status: 'failed', error: expect.stringMatching(/^response: .*in\.missing/), response: { status: 500 } })
    expect(run.steps).toMatchObject([{ id: 'push', status: 'ok' }])
  })

  it('refuses on_error and steps in the response at load, since the answer goes first', async () => {
    const failed = startHookrelay(`
pipelines:
  - id: t
    source: { type: http, key: t-key-0123456789, respond: on_receipt, response: { body: "{{ steps.a.status }}" }, on_error: { status: 200 } }
    actions:
      - { id: a, type: http.request, url: "http://127.0.0.1:9/x" }
`)
    await expect(failed).rejects.toThrow("source.on_error: has no effect with respond: on_receipt (the answer is sent before any action runs); remove it")
    await expect(failed).rejects.toThrow("source.response.body: the template reads steps.a, which is not an earlier action")
  })
})

describe('graceful shutdown', () => {
  it('answers new requests 503, lets the run in flight finish, and closes the journal', async () => {
    const up = await heldUpstream()
    const hr = await keep(startHookrelay(waiting(up.stub.url)))
    const inflight = hr.call('/hooks/wait/wait-key-0123456789', postJson({ a: 1 }))
    await up.arrived()

    const stopped = hr.stop()
    await new Promise((r) => setTimeout(r, 50))
    const late = await hr.call('/hooks/wait/wait-key-0123456789', postJson({ a: 2 }))
    expect(late.status).toBe(503)
    expect(late.headers.get('retry-after')).toBe('5')
    expect(await late.json()).toEqual({ error: 'the server is shutting down; retry later', code: 'HR_SHUTTING_DOWN' })

    up.release()
    const res = await inflight
    expect(res.status).toBe(200)
    await stopped
    const db = new Database(hr.dbPath, { readonly: true })
    expect(db.prepare('SELECT status FROM runs').all()).toEqual([{ status: 'ok' }])
    db.close()
  })

  it('stops runs still going when the grace period ends, and records them as failed', async () => {
    const up = await heldUpstream()
    const hr = await keep(startHookrelay(waiting(up.stub.url, '300ms')))
    const inflight = hr.call('/hooks/wait/wait-key-0123456789', postJson({ a: 1 }))
    await up.arrived()
    await hr.stop()
    const res = await inflight
    expect(res.status).toBe(503) // the request was fine: the sender may send it again later
    expect(await res.json()).toMatchObject({ code: 'HR_SHUTTING_DOWN', error: 'the server is shutting down; retry later' })
    const db = new Database(hr.dbPath, { readonly: true })
    expect(db.prepare('SELECT status, error FROM runs').all()).toEqual([{ status: 'failed', error: "step 'push': the run was stopped: the server is shutting down" }])
    db.close()
    up.release()
  })
})
