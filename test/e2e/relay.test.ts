/**
 * The relay end to end: real hookrelay on port 0, real upstream stubs, assertions on what the
 * caller got, what the upstream received, and what the journal API shows.
 */
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { json, startStub, type Stub } from '../helpers/stub.js'
import { postJson, startHookrelay, type TestService } from '../helpers/hookrelay.js'

let hr: TestService | undefined
let stub: Stub | undefined
afterEach(async () => {
  await hr?.close()
  await stub?.close()
  hr = stub = undefined
})

const SEED_JSON = {
  firstName: 'Александр',
  phone: '+79090000001',
  appealType: { Code: '101', Name: 'Заказать звонок' },
  raw: [
    { q: 'ab6c5412-5c7f-489d-8d79-173ce632930e', a: '3f0bb0ea-fc31-4b49-86b5-337ca0cf86da' },
    { q: 'd337ecb3-b903-4664-94c1-16acf2c2e3bb', a: 'f3d4933b-6af3-48a9-a836-0173bbbf6415' },
  ],
}

describe('seed flow: HTTP JSON -> json.parse -> http.request', () => {
  const config = (upstream: string) => `
pipelines:
  - id: lead-to-crm
    source:
      type: http
      key: k3y-0123456789abcdef
      methods: [POST]
      response:
        status: 201
        status_text: Created Here
        headers: { X-Answer: "{{ steps.lead.code }}" }
        body: '{"ok":true,"second_q":"{{ steps.lead.second_q }}","crm":{{ steps.crm.json.id }}}'
    actions:
      - id: lead
        type: json.parse
        fields:
          first_name: '["firstName"]'
          code: { path: '["appealType"]["Code"]', on_missing: abort }
          second_q: { path: '["raw"][1]["q"]', on_missing: abort }
          missing: { path: '["nope"]["x"]', on_missing: empty }
      - id: crm
        type: http.request
        method: PUT
        url: "${upstream}/contacts/{{ steps.lead.code }}"
        query: { source: "{{ pipeline.id }}", n: 5 }
        headers: { X-Token: super-secret-token-123, X-Code: "{{ steps.lead.code }}" }
        body:
          json:
            name: "{{ steps.lead.first_name }}"
            code: "{{ steps.lead.code }}"
            answers: "{{ request.body.raw }}"
            empty: "{{ steps.lead.missing }}"
            run: "{{ run.id }}"
`

  it('parses, calls the upstream exactly as configured, answers the caller and journals every step', async () => {
    stub = await startStub((_req, res) => json(res, 200, { id: 77 }))
    hr = await startHookrelay(config(stub.url))

    const res = await hr.call('/hooks/lead-to-crm/k3y-0123456789abcdef?utm=vk', postJson(SEED_JSON))
    expect(res.status).toBe(201)
    expect(res.statusText).toBe('Created Here')
    expect(res.headers.get('x-answer')).toBe('101')
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const runId = res.headers.get('x-hookrelay-run')
    expect(await res.json()).toEqual({ ok: true, second_q: SEED_JSON.raw[1]!.q, crm: 77 })

    expect(stub.requests).toHaveLength(1)
    const got = stub.requests[0]!
    expect(got.method).toBe('PUT')
    expect(got.path).toBe('/contacts/101')
    expect(Object.fromEntries(got.query)).toEqual({ source: 'lead-to-crm', n: '5' })
    expect(got.headers['x-token']).toBe('super-secret-token-123')
    expect(got.headers['x-code']).toBe('101')
    expect(got.headers['content-type']).toBe('application/json')
    expect(JSON.parse(got.body)).toEqual({ name: 'Александр', code: '101', answers: SEED_JSON.raw, empty: '', run: runId })

    const run = await hr.journal(`/${runId}`)
    expect(run).toMatchObject({ id: runId, pipeline: 'lead-to-crm', status: 'ok', error: null, replay_of: null })
    expect(run.request).toMatchObject({ method: 'POST', path: '/hooks/lead-to-crm/***', query: { utm: 'vk' }, body: SEED_JSON })
    expect(JSON.parse(run.request.raw)).toEqual(SEED_JSON)
    expect(run.response).toMatchObject({ status: 201, body: JSON.stringify({ ok: true, second_q: SEED_JSON.raw[1]!.q, crm: 77 }) })
    expect(run.steps.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ['lead', 'ok'],
      ['crm', 'ok'],
    ])
    expect(run.steps[0].output).toEqual({ first_name: 'Александр', code: '101', second_q: SEED_JSON.raw[1]!.q, missing: '' })
    const crm = run.steps[1]
    expect(crm.request).toMatchObject({ method: 'PUT', url: `${stub.url}/contacts/101?source=lead-to-crm&n=5` })
    expect(crm.request.headers['X-Token']).toBe('***')
    expect(crm.response).toMatchObject({ status: 200, body: '{"id":77}', attempts: 1 })
    expect(typeof crm.duration_ms).toBe('number')
    expect(JSON.stringify(run)).not.toContain('super-secret-token-123')
  })

  it('fails the run when an abort path is missing, naming the field and path, without calling upstream', async () => {
    stub = await startStub()
    hr = await startHookrelay(config(stub.url))
    const res = await hr.call('/hooks/lead-to-crm/k3y-0123456789abcdef', postJson({ firstName: 'Иван', appealType: {} }))
    expect(res.status).toBe(422)
    const body: any = await res.json()
    expect(body).toMatchObject({ code: 'HR_INPUT_REJECTED', run_id: res.headers.get('x-hookrelay-run') })
    expect(body.error).toBe(`action 'lead' failed: field 'code': path ["appealType"]["Code"] not found in the input`)
    expect(stub.requests).toHaveLength(0)
    const run = await hr.journal(`/${body.run_id}`)
    expect(run.status).toBe('failed')
    expect(run.error).toBe(`step 'lead': field 'code': path ["appealType"]["Code"] not found in the input`)
    expect(run.steps).toHaveLength(1)
    expect(run.steps[0]).toMatchObject({ id: 'lead', status: 'failed' })
  })
})

/** A pipeline `p` whose one action calls `upstream`/x. */
const oneCall = (upstream: string) => `
pipelines:
  - id: p
    source: { type: http, key: p-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${upstream}/x" }
`

describe('durability order', () => {
  it('has the run row on disk before the first action calls out', async () => {
    let seen: unknown
    stub = await startStub((_req, res) => {
      // A second connection, as another process would see the file.
      const db = new Database(hr!.dbPath, { readonly: true })
      seen = db.prepare('SELECT pipeline, status, request FROM runs').all()
      db.close()
      json(res, 200, {})
    })
    hr = await startHookrelay(oneCall(stub.url))
    const res = await hr.call('/hooks/p/p-key-0123456789', postJson({ email: 'a@b.ru' }))
    expect(res.status).toBe(200)
    expect(seen).toEqual([{ pipeline: 'p', status: 'running', request: expect.stringContaining('a@b.ru') }])
  })
})

describe('many calls at once', () => {
  it('runs 30 upstream calls side by side, journals each, and warns of no listener leak', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
    process.on('warning', onWarning)
    try {
      // The upstream holds every answer until all 30 calls are in flight (or 5 s passed).
      const held: Array<() => void> = []
      const releaseAll = () => held.splice(0).forEach((release) => release())
      const timer = setTimeout(releaseAll, 5000)
      stub = await startStub((_req, res, n) => {
        held.push(() => json(res, 200, { n }))
        if (n === 30) releaseAll()
      })
      hr = await startHookrelay(oneCall(stub.url))
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => hr!.call('/hooks/p/p-key-0123456789', postJson({ i }))))
      clearTimeout(timer)
      expect(answers.map((r) => r.status)).toEqual(Array(30).fill(200))
      const { runs } = (await hr.journal('?limit=100')) as { runs: Array<{ status: string }> }
      expect(runs.map((r) => r.status)).toEqual(Array(30).fill('ok'))
      expect(warnings).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })
})

describe('source answers and refusals', () => {
  const config = `
pipelines:
  - id: form
    source:
      type: http
      key: form-key-0123456789
      methods: [POST, GET]
      response:
        headers: { Access-Control-Allow-Origin: "*", Access-Control-Allow-Headers: "content-type" }
        body: "{{ in.name }}|{{ in.src }}|{{ request.method }}"
    actions: []
  - id: stopped
    enabled: false
    source: { type: http, key: stopped-key-0123456789 }
    actions: []
`

  it('merges query and form body into in.*, the body winning', async () => {
    hr = await startHookrelay(config)
    const res = await hr.call('/hooks/form/form-key-0123456789?name=query&src=q', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=%D0%98%D0%B2%D0%B0%D0%BD',
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(await res.text()).toBe('Иван|q|POST')
  })

  it('answers a CORS preflight from the configured headers without a run', async () => {
    hr = await startHookrelay(config)
    const res = await hr.call('/hooks/form/form-key-0123456789', {
      method: 'OPTIONS',
      headers: { origin: 'https://school.example', 'access-control-request-method': 'POST' },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type')
    expect(res.headers.get('access-control-allow-methods')).toBe('POST, GET')
    expect((await hr.journal()).runs).toEqual([])
  })

  it('gives an unknown pipeline and a wrong key the same 404, journals neither, and counts them', async () => {
    hr = await startHookrelay(config)
    const unknown = await hr.call('/hooks/nope/form-key-0123456789', postJson({}))
    const wrongKey = await hr.call('/hooks/form/wrong-key', postJson({}))
    const noKey = await hr.call('/hooks/form', postJson({}))
    for (const res of [unknown, wrongKey, noKey]) {
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ error: 'not found', code: 'HR_NOT_FOUND' })
    }
    expect((await hr.journal()).runs).toEqual([])
    const health: any = await (await hr.call('/healthz')).json()
    expect(health).toEqual({ status: 'ok', not_found: 3, parser_refused: {}, targets_encoded: 0 })
  })

  it('answers a wrong method 405 with Allow and keeps it as a rejected run', async () => {
    hr = await startHookrelay(config)
    const res = await hr.call('/hooks/form/form-key-0123456789', { method: 'DELETE' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('POST, GET')
    const body: any = await res.json()
    expect(body).toMatchObject({ code: 'HR_METHOD_NOT_ALLOWED', error: 'method DELETE is not allowed here (allowed: POST, GET)' })
    const run = await hr.journal(`/${body.run_id}`)
    expect(run).toMatchObject({ status: 'rejected', error: body.error, request: { method: 'DELETE' } })
  })

  it('answers a stopped pipeline 503 and keeps the request as skipped', async () => {
    hr = await startHookrelay(config)
    const res = await hr.call('/hooks/stopped/stopped-key-0123456789', postJson({ email: 'a@b.ru' }))
    expect(res.status).toBe(503)
    const body: any = await res.json()
    expect(body).toMatchObject({ error: 'pipeline stopped', code: 'HR_PIPELINE_STOPPED' })
    const run = await hr.journal(`/${body.run_id}`)
    expect(run).toMatchObject({ status: 'skipped', request: { body: { email: 'a@b.ru' } } })
  })

  it('refuses malformed JSON with 400 and keeps the raw bytes in a rejected run', async () => {
    hr = await startHookrelay(config)
    const raw = '{"name": "Иван", "email": '
    const res = await hr.call('/hooks/form/form-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw })
    expect(res.status).toBe(400)
    const body: any = await res.json()
    expect(body.code).toBe('HR_BAD_JSON')
    expect(body.error).toMatch(/^request body is not valid JSON: /)
    const run = await hr.journal(`/${body.run_id}`)
    expect(run).toMatchObject({ status: 'rejected', error: body.error, request: { raw, body: null } })
    expect(run.steps).toEqual([])
  })

  it('passes a text body through as request.raw and template syntax inside data as text', async () => {
    hr = await startHookrelay(`
pipelines:
  - id: echo
    source: { type: http, key: echo-key-0123456789, response: { body: "[{{ request.raw }}] [{{ in.x }}]" } }
    actions: []
`)
    const res = await hr.call('/hooks/echo/echo-key-0123456789?x=%7B%7B%20run.id%20%7D%7D', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{{ pipeline.id }} {% raw %}',
    })
    expect(await res.text()).toBe('[{{ pipeline.id }} {% raw %}] [{{ run.id }}]')
  })
})

describe('upstream failures', () => {
  const config = (upstream: string, extra = '') => `
pipelines:
  - id: relay
    source: { type: http, key: relay-key-0123456789${extra} }
    actions:
      - id: crm
        type: http.request
        url: "${upstream}/x"
        body: { json: { email: "{{ in.email }}" } }
        retries: 2
        timeout: 5s
`

  it('ends a run failed on an upstream 500 and keeps the upstream answer', async () => {
    stub = await startStub((_req, res) => json(res, 500, { message: 'database down' }))
    hr = await startHookrelay(config(stub.url).replace('retries: 2', 'retries: 0'))
    const res = await hr.call('/hooks/relay/relay-key-0123456789', postJson({ email: 'a@b.ru' }))
    expect(res.status).toBe(502)
    const body: any = await res.json()
    expect(body.error).toBe("action 'crm' failed: upstream answered 500, which is not a success (expected 2**)")
    const run = await hr.journal(`/${body.run_id}`)
    expect(run.status).toBe('failed')
    expect(run.error).toBe("step 'crm': upstream answered 500, which is not a success (expected 2**)")
    expect(run.steps[0]).toMatchObject({ status: 'failed', response: { status: 500, body: '{"message":"database down"}', attempts: 1 } })
  })

  it('retries a 503 and succeeds on the next answer', async () => {
    stub = await startStub((_req, res, n) => (n === 1 ? json(res, 503, { busy: true }, { 'retry-after': '0' }) : json(res, 200, { ok: 1 })))
    hr = await startHookrelay(config(stub.url))
    const res = await hr.call('/hooks/relay/relay-key-0123456789', postJson({ email: 'a@b.ru' }))
    expect(res.status).toBe(200)
    expect(stub.requests).toHaveLength(2)
    expect(stub.requests.map((r) => JSON.parse(r.body))).toEqual([{ email: 'a@b.ru' }, { email: 'a@b.ru' }])
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.steps[0]).toMatchObject({ status: 'ok', response: { status: 200, attempts: 2 } })
  })

  it('uses on_error with the error in scope', async () => {
    stub = await startStub((_req, res) => json(res, 422, { message: 'bad email' }))
    hr = await startHookrelay(config(stub.url, `, on_error: { status: 200, body: "error in {{ error.step }}: {{ error.message }}" }`))
    const res = await hr.call('/hooks/relay/relay-key-0123456789', postJson({ email: 'a@b.ru' }))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('error in crm: upstream answered 422, which is not a success (expected 2**)')
    expect(stub.requests).toHaveLength(1) // 4xx is not retried
  })

  it('fails the step naming the missing name and where the template is (never its text)', async () => {
    stub = await startStub()
    hr = await startHookrelay(config(stub.url))
    const res = await hr.call('/hooks/relay/relay-key-0123456789', postJson({ name: 'no email here' }))
    expect(res.status).toBe(422)
    const body: any = await res.json()
    expect(body.error).toBe("action 'crm' failed: missing name 'in.email' in the template at pipelines[0].actions[0].body.json.email")
    expect(stub.requests).toHaveLength(0)
  })
})

describe('http.request bodies and continue_on_error', () => {
  it('sends form and raw bodies with their content types, lets a header override it, and goes on after a failure', async () => {
    stub = await startStub((req, res) => (req.path === '/fail' ? json(res, 502, { down: true }) : json(res, 200, { path: req.path })))
    hr = await startHookrelay(`
pipelines:
  - id: bodies
    source:
      type: getcourse.user
      key: bodies-key-0123456789
      response: { body: "{{ steps.broken.error }} / {{ steps.raw.status }}" }
    actions:
      - id: form
        type: http.request
        url: "${stub.url}/form"
        body: { form: { email: "{{ in.email }}", name: "{{ in.first_name }}", n: 3 } }
      - id: broken
        type: http.request
        url: "${stub.url}/fail"
        continue_on_error: true
      - id: raw
        type: http.request
        method: patch
        url: "${stub.url}/raw"
        headers: { Content-Type: "application/xml" }
        body: { raw: "<user>{{ in.email }}</user>" }
`)
    const res = await hr.call('/hooks/bodies/bodies-key-0123456789?email=ivan.petrov%40example.com&first_name=%D0%98%D0%B2%D0%B0%D0%BD')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('upstream answered 502, which is not a success (expected 2**) / 200')
    const [form, broken, raw] = stub.requests
    expect(form).toMatchObject({ method: 'POST', path: '/form', body: 'email=ivan.petrov%40example.com&name=%D0%98%D0%B2%D0%B0%D0%BD&n=3' })
    expect(form!.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(broken).toMatchObject({ method: 'GET', path: '/fail', body: '' })
    expect(raw).toMatchObject({ method: 'PATCH', path: '/raw', body: '<user>ivan.petrov@example.com</user>' })
    expect(raw!.headers['content-type']).toBe('application/xml')

    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.status).toBe('ok')
    expect(run.steps.map((s: { status: string }) => s.status)).toEqual(['ok', 'failed', 'ok'])
  })
})

describe('logs', () => {
  it('carry request and run ids but never the URL key or a secret header; a run that went well at debug, a failed one or a 5xx at info', async () => {
    stub = await startStub((req, res) => json(res, req.path === '/fail' ? 500 : 200, { ok: req.path !== '/fail' }))
    hr = await startHookrelay(`
pipelines:
  - id: logged
    source: { type: http, key: very-secret-url-key-42 }
    actions:
      - { id: call, type: http.request, url: "${stub.url}/x", headers: { Authorization: "Bearer \${API_TOKEN}" } }
  - id: failing
    source: { type: http }
    actions:
      - { id: call, type: http.request, url: "${stub.url}/fail" }
  - id: closed
    source: { type: http, response: { status: 503, body: "closed for the night" } }
    actions: []
`, { env: { API_TOKEN: 'tok-abcdef-123456' } })
    await hr.call('/hooks/logged/very-secret-url-key-42', postJson({ a: 1 }))
    expect((await hr.call('/hooks/failing', postJson({ a: 1 }))).status).toBe(502)
    expect((await hr.call('/hooks/closed', postJson({ a: 1 }))).status).toBe(503)
    await hr.call('/hooks/logged/very-secret-url-key-42-wrong', postJson({ a: 1 }))
    expect(stub.requests[0]!.headers['authorization']).toBe('Bearer tok-abcdef-123456')
    const lines = hr.logs.map((l) => JSON.parse(l) as Record<string, unknown>)
    const [ok, failed, closed] = ['logged', 'failing', 'closed'].map((pipeline) => lines.find((l) => l['msg'] === 'run finished' && l['pipeline'] === pipeline))
    expect(ok).toMatchObject({ level: 20, status: 'ok', answer: 200, reqId: expect.any(String), runId: expect.any(String) }) // debug
    expect(failed).toMatchObject({ level: 30, status: 'failed', answer: 502, error: expect.stringContaining("step 'call'") }) // info
    expect(closed).toMatchObject({ level: 30, status: 'ok', answer: 503 }) // a 5xx the config asked for: info
    expect(lines.some((l) => (l['req'] as { url?: string } | undefined)?.url === '/hooks/logged/***')).toBe(true)
    const all = hr.logs.join('\n')
    expect(all).not.toContain('very-secret-url-key-42')
    expect(all).not.toContain('tok-abcdef-123456')
  })
})
