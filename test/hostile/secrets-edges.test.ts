/**
 * The edges of masking that an outside review found: values a masker cannot search for (huge,
 * broken UTF-16), a request that tries to use up what a run learns, secrets a run learns only
 * late, encodings of other languages, cuts inside a character, and answers the operator means
 * to send as written.
 */
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { expectNoFragments, journalFiles } from '../helpers/canary.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay } from '../helpers/hookrelay.js'
import { run } from '../helpers/process.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

async function allDetails(hr: { journal(path?: string): Promise<any> }): Promise<string> {
  const { runs } = await hr.journal('?limit=500')
  return JSON.stringify(await Promise.all(runs.map((r: { id: string }) => hr.journal(`/${r.id}`))))
}

describe('values the masker cannot search for', () => {
  it('a 40 KB signature, a lone surrogate, a 14,000-character header: one run each, answered, no config secret in the log', async () => {
    const crm = await keep(startStub())
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: form
    source: { type: http, key: form-key-0123456789 }
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/x", headers: { X-Token: "\${CRM_TOKEN}" }, body: { json: "{{ in }}" } }
`,
        { env: { CRM_TOKEN: 'Ct9vConfigToken4Lq' } },
      ),
    )
    const url = '/hooks/form/form-key-0123456789'
    const picture = `data:image/png;base64,${'iVBORw0KGgo'.repeat(4000)}`
    const answers = [
      await hr.call(url, postJson({ name: 'Ivan', signature: picture })),
      await hr.call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"abcd\\ud800efgh"}' }),
      await hr.call(url, postJson({ name: 'Olga' }, { 'x-api-key': '"'.repeat(14_000) })),
    ]
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200])
    const { runs } = await hr.journal()
    expect(runs.map((r: { status: string }) => r.status)).toEqual(['ok', 'ok', 'ok'])
    const first = await hr.journal(`/${answers[0]!.headers.get('x-hookrelay-run')}`)
    expect(first.request.body.signature).toBe('***')
    expect(first.warnings).toEqual([expect.stringMatching(/^1 secret value was not learned/)])
    expect(hr.logs.join('\n')).not.toContain('Ct9vConfigToken4Lq')
    expect(Math.max(...hr.logs.map((l) => l.length))).toBeLessThan(4000)
  })
})

describe('what a run learns', () => {
  it('a request cannot use up what the run learns from its own credentials', async () => {
    const issued = 'AccessTok9xQ7wLz3Vb'
    const api = await keep(
      startStub((req, res) => {
        if (req.path === '/auth') return json(res, 200, { access_token: issued })
        return json(res, 403, { message: `denied for ${req.query.get('access_token')}` })
      }),
    )
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: p
    source: { type: http, key: p-key-0123456789, response: { body: "{{ steps.data.body }}" }, on_error: { status: 502, body: "{{ error.message }}" } }
    actions:
      - { id: auth, type: http.request, url: "${api.url}/auth", method: POST }
      - { id: data, type: http.request, url: "${api.url}/data", query: { access_token: "{{ steps.auth.json.access_token }}" } }
`),
    )
    const junk = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`f${i}_token`, `junk-value-${i}-xxxxxxxx`]))
    const res = await hr.call('/hooks/p/p-key-0123456789', postJson(junk))
    expect(res.status).toBe(502)
    expect(await res.text()).not.toContain(issued)
    expect(api.requests[1]!.query.get('access_token')).toBe(issued) // it was sent
    const details = await allDetails(hr)
    expect(details).toContain('access_token=***')
    await hr.stop()
    expectNoFragments({ journal: details, database: journalFiles(hr.dir), logs: hr.logs.join('\n') }, { issued })
  })

  it('a secret learned by a later step is hidden in the rows of earlier ones, and in the kept request the API shows', async () => {
    const token = 'Tx5mPlainTextToken8Rk'
    const api = await keep(
      startStub((req, res) => {
        if (req.path !== '/login') return json(res, 200, { ok: true })
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.end(`your token is ${token}`)
      }),
    )
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: p
    source: { type: http, key: p-key-0123456789 }
    actions:
      - { id: login, type: http.request, url: "${api.url}/login", method: POST }
      - { id: use, type: http.request, url: "${api.url}/use", headers: { Authorization: "Bearer {{ steps.login.body | remove: 'your token is ' }}", X-Api-Key: "{{ in.api }}" } }
`),
    )
    const apiKey = 'Ak3pBodyFieldKey6Zt'
    const res = await hr.call('/hooks/p/p-key-0123456789', postJson({ api: apiKey, name: 'Ivan' }))
    expect(res.status).toBe(200)
    expect(api.requests[1]!.headers['authorization']).toBe(`Bearer ${token}`)
    const details = await allDetails(hr)
    const run = JSON.parse(details)[0]
    expect(run.steps[0].response.body).toBe('your token is ***')
    expect(run.request.body).toEqual({ api: '***', name: 'Ivan' })
    expect(JSON.parse(run.request.raw)).toEqual({ api: '***', name: 'Ivan' })
    expectNoFragments({ journal: details }, { token, apiKey })
  })
})

describe('encodings and cuts', () => {
  it('finds a secret as PHP, Graph API and HTML write it, and one cut at the read limit inside a character', async () => {
    const hook = 'https://hooks.slack.example/T00/B00/Sk7wEcho&Secret9'
    const big = 'Bg8uCutInsideChar3Wd'
    const api = await keep(
      startStub((req, res) => {
        const php = JSON.stringify({ hook }).replace(/\//g, '\\/')
        const graph = JSON.stringify({ hook }).replace(/&/g, '\\u0026')
        const html = `<a href="${hook.replace(/&/g, '&amp;')}">`
        const lower = encodeURIComponent(hook).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())
        if (req.path === '/echo') return json(res, 200, { php, graph, html, lower })
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
        res.end(`${'b'.repeat(1024 * 1024 - 11)}€${big} and more`) // € is 3 bytes: the limit falls inside the secret
      }),
    )
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: p
    source: { type: http, key: p-key-0123456789, response: { body: "{{ steps.echo.body }}|{{ steps.big.body | slice: -20, 20 }}" } }
    actions:
      - { id: echo, type: http.request, url: "${api.url}/echo", headers: { X-Hook: "\${HOOK_URL}" } }
      - { id: big, type: http.request, url: "${api.url}/big", headers: { X-Token: "\${BIG}" } }
`,
        { env: { HOOK_URL: hook, BIG: big } },
      ),
    )
    const res = await hr.call('/hooks/p/p-key-0123456789', { method: 'POST' })
    expect(res.status).toBe(200)
    const answer = await res.text()
    expect(answer).toMatch(/b€$/) // the whole character before the cut stays, the secret's start goes
    expectNoFragments({ answer, journal: await allDetails(hr) }, { hook: 'Sk7wEcho&Secret9', big })
  })

  it('hides a number that is a known secret', async () => {
    const api = await keep(startStub((_req, res) => json(res, 200, { account: 48151623420, items: 3 })))
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: p
    source: { type: http, key: p-key-0123456789 }
    actions:
      - { id: acc, type: http.request, url: "${api.url}/a", headers: { X-Account-Key: "\${ACCOUNT}" } }
      - { id: read, type: json.parse, from: "{{ steps.acc.json }}", fields: { account: account, items: items } }
`,
        { env: { ACCOUNT: '48151623420' } },
      ),
    )
    await hr.call('/hooks/p/p-key-0123456789', { method: 'POST' })
    const [run] = JSON.parse(await allDetails(hr))
    expect(run.steps[1].output).toEqual({ account: '***', items: 3 })
  })
})

describe('what the operator writes is sent as written', () => {
  it('a CORS origin from ${ENV} reaches the browser in the preflight and the answer; the journal shows it (a URL is no credential)', async () => {
    const origin = 'https://school-site.example'
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: form
    source: { type: http, key: form-key-0123456789, response: { headers: { Access-Control-Allow-Origin: "\${SITE_ORIGIN}" }, body: ok } }
    actions: []
`,
        { env: { SITE_ORIGIN: origin } },
      ),
    )
    const preflight = await hr.call('/hooks/form/form-key-0123456789', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } })
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin)
    const res = await hr.call('/hooks/form/form-key-0123456789', postJson({ a: 1 }, { origin }))
    expect(res.headers.get('access-control-allow-origin')).toBe(origin)
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.response.headers['Access-Control-Allow-Origin']).toBe(origin)
  })
})

describe('config messages', () => {
  it('does not quote a long value it cannot place, so no part of a secret is shown cut', async () => {
    const hr = await keep(startHookrelay('pipelines: []\n'))
    const key = 'Q2hlY2tUaGlzS2V5SXNMb25nRW5vdWdoVG9CZUN1dFNob3J0QnlUaGVRdW90ZQ=='
    const path = join(hr.dir, 'broken.yaml')
    writeFileSync(path, 'pipelines:\n  - id: p\n    source: { type: http, key: "${HOOK_KEY}" }\n    actions: []\n')
    const { code, stderr } = await run(['check', '--config', path], { env: { HOOK_KEY: key } })
    expect(code).toBe(1)
    expect(stderr).toContain(`source.key: found a text of ${key.length} characters, expected letters, digits and . _ ~ -`)
    expectNoFragments({ stderr }, { key })
  })
})
