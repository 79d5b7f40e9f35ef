/**
 * Trying to get secrets out, as an attacker with only the public URLs would (and as a careless
 * upstream helps them to): every way a secret, or part of one, leaked before, each in its own
 * pipeline. Then every output is searched for every 8-character window of every canary: the
 * answers, the database and its WAL, the journal API, the log, the letters and the CLI.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { expectNoFragments, fragmentsIn, journalFiles } from '../helpers/canary.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startHookrelay } from '../helpers/hookrelay.js'
import { run } from '../helpers/process.js'
import { SMTP_AUTH, startSmtp } from '../helpers/smtp.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

/** Secrets the config holds (from the environment or written in it): nowhere, not even in the database. */
const CONFIG = {
  journalToken: 'Jt6wJournalTok3Vc0Q',
  urlKeyTmpl: 'Uk7mQ2vXurlKeyTmpl9Lp',
  urlKeyEcho: 'Uk4nR8wYurlKeyEcho2Hs',
  crmToken: 'tok_live_9f8e7d6c5b4a3Zq', // cut by the 77-character quote of a template
  capSecret: 'Cp3xBoundarySecret8Wq', // cut by the 64 KiB body cap
  svcToken: 'Sv5kExcerptToken2Nm', // cut by the 200-character excerpt of a service's answer
  jsonToken: 'Js8vSnippetToken4Rt', // cut by V8's excerpt in a JSON.parse error
  echoToken: 'Ec2hHeaderEcho7Yb', // echoed by an upstream into the answer
  apiPass: 'Zq$9&Pw+x,<k>Ap3W', // URL userinfo, percent-encoded the WHATWG way
  short: 'Hq7vOverlapZk2', // a secret inside another
  long: 'Hq7vOverlapZk2Wm9xTailPart',
  bigToken: 'Bg4tCutAtLimit6Hs', // cut by the client's read limit
  smtpPass: SMTP_AUTH.pass,
}

/** Secrets a request brings in a header or the query string: nowhere either. */
const INCOMING = {
  bearer: 'Br8xIncomingBearer1Tf', // Authorization: Bearer X, with X passed on alone
  apiKeyHeader: 'Ak1yXApiKeyHeader4Mv', // X-Api-Key
  apitokenHeader: 'Ap6tLowerApiToken8Jd', // apitoken (a header name arrives lower-cased)
  queryToken: 'Lq9zQueryToken5Kd', // ?access_token= on a URL that does not exist
}

/** Secrets in the body of a request: kept as sent (replay needs them), so only there in the database. */
const IN_BODY = {
  accessToken: 'At3cCamelAccess6Pq', // accessToken
  clientSecret: 'Cs5eCamelClient2Wz', // clientSecret
}

const PAD = 64 * 1024 - 10 // the 64 KiB cap fell 10 characters into capSecret
const READ_LIMIT = 1024 * 1024 // the HTTP client's cap on an answer

describe('secrets extraction', () => {
  it('finds no 8-character piece of any secret in any output, whatever route it took', async () => {
    const stub = await keep(
      startStub((req, res) => {
        const token = String(req.headers['x-token'] ?? '')
        const text = (body: string) => {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
          res.end(body)
        }
        if (req.path === '/raw') return text(req.body)
        if (req.path === '/text') return text(`h${token} and a tail long enough for V8 to cut its excerpt`)
        if (req.path === '/big') return text('b'.repeat(READ_LIMIT - 10) + token + ' and more')
        if (req.path.startsWith('/bizon/')) return text('E'.repeat(185) + token + ' is not a valid token')
        return json(res, 200, { headers: req.headers, body: req.body, query: Object.fromEntries(req.query) })
      }),
    )
    const mailbox = await keep(startSmtp())
    const env = {
      CRM_TOKEN: CONFIG.crmToken,
      CAP_SECRET: CONFIG.capSecret,
      SVC_TOKEN: CONFIG.svcToken,
      JSON_TOKEN: CONFIG.jsonToken,
      ECHO_TOKEN: CONFIG.echoToken,
      API_PASS: CONFIG.apiPass,
      SHORT: CONFIG.short,
      LONG: CONFIG.long,
      BIG_TOKEN: CONFIG.bigToken,
      SMTP_URL: mailbox.url,
    }
    const key = (suffix: string) => `Uk9pK3mZurlKey${suffix}`
    const yaml = `
notify:
  email: { smtp: "\${SMTP_URL}", from: hookrelay@school.example, to: [ops@school.example], min_interval: 1s }
pipelines:
  - id: tmpl
    source: { type: http, key: ${CONFIG.urlKeyTmpl} }
    actions:
      - { id: crm, type: http.request, url: "${stub.url}/crm/api/v2/contacts/leads?access_token=\${CRM_TOKEN}&email={{ in.email }}" }
  - id: cap
    source: { type: http, key: ${key('Cap')} }
    actions:
      - { id: send, type: http.request, url: "${stub.url}/raw", body: { raw: "{{ in.pad }}\${CAP_SECRET}{{ in.pad }}" } }
  - id: svc
    source: { type: http, key: ${key('Svc')} }
    actions:
      - { id: reg, type: bizon365.subscribe, token: "\${SVC_TOKEN}", page_id: "1:x", email: "{{ in.email }}", base_url: "${stub.url}/bizon" }
  - id: json
    source: { type: http, key: ${key('Json')} }
    actions:
      - { id: fetch, type: http.request, url: "${stub.url}/text", headers: { X-Token: "\${JSON_TOKEN}" } }
      - { id: lead, type: json.parse, from: "{{ steps.fetch.body }}", fields: { a: a } }
  - id: echo
    source: { type: http, key: ${CONFIG.urlKeyEcho}, response: { body: "{{ steps.call.body }}" } }
    actions:
      - id: call
        type: http.request
        url: "http://api:\${API_PASS}@${stub.url.slice('http://'.length)}/echo"
        headers: { X-Token: "\${ECHO_TOKEN}", X-Short: "\${SHORT}", X-Overlap: "\${LONG}" }
        body:
          json:
            email: "{{ in.email }}"
            note: '{{ request.headers.authorization | remove: "Bearer " }}|{{ in.accessToken }}|{{ in.clientSecret }}|{{ request.headers["x-api-key"] }}|{{ request.headers.apitoken }}'
  - id: big
    source: { type: http, key: ${key('Big')}, response: { body: "{{ steps.big.body | slice: -40, 40 }}" } }
    actions:
      - { id: big, type: http.request, url: "${stub.url}/big", headers: { X-Token: "\${BIG_TOKEN}" } }
`
    const hr = await keep(startHookrelay(yaml, { env, token: CONFIG.journalToken }))

    const answers: string[] = []
    const call = async (path: string, init?: RequestInit) => {
      const res = await hr.call(path, init)
      const body = await res.text()
      answers.push(`${res.status} ${res.statusText} ${JSON.stringify([...res.headers])} ${body}`)
      return { status: res.status, body, run: res.headers.get('x-hookrelay-run') }
    }
    const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })

    const tmpl = await call(`/hooks/tmpl/${CONFIG.urlKeyTmpl}`, post({}))
    expect(tmpl.status).toBe(422)
    expect(JSON.parse(tmpl.body).error).toBe("action 'crm' failed: missing name 'in.email' in the template at pipelines[0].actions[0].url")
    expect((await call(`/hooks/cap/${key('Cap')}`, post({ pad: 'a'.repeat(PAD) }))).status).toBe(200)
    expect((await call(`/hooks/svc/${key('Svc')}`, post({ email: 'ivan@example.com' }))).status).toBe(502)
    const parse = await call(`/hooks/json/${key('Json')}`, post({}))
    expect(JSON.parse(parse.body).error).toMatch(/^action 'lead' failed: input is not JSON: Unexpected token 'h'/)
    const echoed = await call(
      `/hooks/echo/${CONFIG.urlKeyEcho}`,
      post(
        { email: 'ivan@example.com', accessToken: IN_BODY.accessToken, clientSecret: IN_BODY.clientSecret },
        { authorization: `Bearer ${INCOMING.bearer}`, 'x-api-key': INCOMING.apiKeyHeader, apitoken: INCOMING.apitokenHeader },
      ),
    )
    expect(echoed.status).toBe(200)
    const big = await call(`/hooks/big/${key('Big')}`, { method: 'POST' })
    expect(big.body).toMatch(/^b+$/) // the start of the token at the cut went, the rest of the answer stayed
    // V8 quotes the start of a body it cannot parse: here the URL key.
    const rejected = await call(`/hooks/echo/${CONFIG.urlKeyEcho}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `x${CONFIG.urlKeyEcho}", "a": 1}` })
    expect(rejected.status).toBe(400)
    expect((await call(`/hooks/nope/x?access_token=${INCOMING.queryToken}`)).status).toBe(404)
    await mailbox.waitFor(3, 8000)

    // The real values went out: the masking is what keeps them from the outputs.
    const sent = stub.requests.find((r) => r.path === '/echo')!
    expect(sent.headers['authorization']).toBe(`Basic ${Buffer.from(`api:${CONFIG.apiPass}`).toString('base64')}`)
    expect(sent.headers['x-token']).toBe(CONFIG.echoToken)
    expect(JSON.parse(sent.body).note).toBe([INCOMING.bearer, IN_BODY.accessToken, IN_BODY.clientSecret, INCOMING.apiKeyHeader, INCOMING.apitokenHeader].join('|'))
    expect(stub.requests.find((r) => r.path === '/raw')!.body).toContain(CONFIG.capSecret)
    expect(JSON.parse(echoed.body).headers['x-overlap']).toBe('***')

    const { runs } = await hr.journal('?limit=500')
    expect(runs.map((r: { pipeline: string; status: string }) => `${r.pipeline} ${r.status}`).sort()).toEqual(
      ['big ok', 'cap ok', 'echo ok', 'echo rejected', 'json failed', 'svc failed', 'tmpl failed'].sort(),
    )
    const details = await Promise.all(runs.map((r: { id: string }) => hr.journal(`/${r.id}`)))
    const journal = JSON.stringify({ runs, details })
    expect(journal).toContain('***') // masking happened, not merely nothing recorded
    await hr.stop()

    // The CLI: check on this config and on one with a broken template, and a replay.
    const configPath = join(hr.dir, 'config.yaml')
    const cliEnv = { ...env, HOME: hr.dir }
    const brokenPath = join(hr.dir, 'broken.yaml')
    writeFileSync(
      brokenPath,
      `pipelines:\n  - id: b\n    source: { type: http, key: ${key('Broken')} }\n    actions:\n` +
        `      - { id: crm, type: http.request, url: "${stub.url}/crm/api/v2/contacts/leads?access_token=\${CRM_TOKEN}&email={{ in.email | nosuchfilter }}" }\n`,
    )
    const cli = [
      await run(['check', '--config', configPath], { env: cliEnv }),
      await run(['check', '--config', brokenPath], { env: cliEnv }),
      await run(['replay', tmpl.run!, '--config', configPath], { env: cliEnv }),
    ]
    expect(cli.map((r) => r.code)).toEqual([0, 1, 1])
    expect(cli[1]!.stderr).toContain('pipelines[0].actions[0].url: the template does not compile: undefined filter: nosuchfilter')

    const everywhere = { ...CONFIG, ...INCOMING }
    const places = {
      answers: answers.join('\n'),
      journal,
      logs: hr.logs.join('\n'),
      letters: mailbox.letters.map((l) => `${l.subject}\n${l.text}\n${JSON.stringify(l.headers)}`).join('\n'),
      cli: cli.map((r) => `${r.stdout}\n${r.stderr}`).join('\n'),
    }
    expectNoFragments({ ...places, database: journalFiles(hr.dir) }, everywhere)
    expectNoFragments(places, IN_BODY)
    // In the database, the body's own secrets are in the body kept as sent, and nowhere else.
    expect(fragmentsIn({ database: journalFiles(hr.dir) }, IN_BODY)).not.toEqual([]) // the search does find them
    expectNoFragments({ 'database outside the kept bodies': databaseWithoutKeptBodies(hr.dbPath) }, IN_BODY)
  })
})

describe('secrets a run does not learn by value', () => {
  it('hides them where they sit under their names: fields beyond the limit, a token an upstream issues', async () => {
    const issued = 'Oa7tIssuedAccess3Kw'
    const stub = await keep(
      startStub((req, res) => {
        if (req.path === '/oauth') return json(res, 200, { access_token: issued, expires_in: 3600 })
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(req.body) // echoes the body it got
      }),
    )
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: many
    source: { type: http, key: many-key-0123456789, response: { body: "{{ steps.fwd.body }}" } }
    actions:
      - { id: fwd, type: http.request, url: "${stub.url}/echo", headers: { Content-Type: application/json }, body: { raw: "{{ request.raw }}" } }
  - id: oauth
    source: { type: http, key: oauth-key-0123456789 }
    actions:
      - { id: auth, type: http.request, url: "${stub.url}/oauth", body: { form: { grant_type: client_credentials } } }
      - { id: use, type: http.request, url: "${stub.url}/echo", headers: { Authorization: "Bearer {{ steps.auth.json.access_token }}" }, body: { json: { ok: 1 } } }
`),
    )
    // 300 secret-named fields: the run learns the first 32 by value, the rest are hidden by name.
    const values = Array.from({ length: 300 }, (_, i) => `Fv${String(i).padStart(3, '0')}Tq8Lm`)
    const body = Object.fromEntries(values.map((v, i) => [`f${i}_token`, v]))
    const res = await hr.call('/hooks/many/many-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect(res.status).toBe(200)
    const answer = JSON.parse(await res.text())
    expect(Object.values(answer).every((v) => v === '***')).toBe(true)
    expect(JSON.parse(stub.requests[0]!.body)).toEqual(body) // the upstream got every value
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.warnings).toEqual([
      '268 secret values were not learned (a run learns at most 32 from its request, 32 from what it sends and 32 of its credentials, ' +
        'of 8 to 1024 characters, within 32 KiB of search text each): masked where they sit under their names, not searched for elsewhere',
    ])
    expect(Object.values(run.request.body).every((v) => v === '***')).toBe(true)
    expect(Object.values(JSON.parse(run.request.raw)).every((v) => v === '***')).toBe(true)

    const oauth = await hr.call('/hooks/oauth/oauth-key-0123456789', { method: 'POST' })
    expect(oauth.status).toBe(200)
    const used = stub.requests.at(-1)!
    expect(used.headers['authorization']).toBe(`Bearer ${issued}`)
    const steps = (await hr.journal(`/${oauth.headers.get('x-hookrelay-run')}`)).steps
    expect(JSON.parse(steps[0].response.body)).toEqual({ access_token: '***', expires_in: 3600 })
    expect(steps[1].request.headers['Authorization']).toBe('***')

    const { runs } = await hr.journal()
    const journal = JSON.stringify(await Promise.all(runs.map((r: { id: string }) => hr.journal(`/${r.id}`))))
    expectNoFragments({ answer: JSON.stringify(answer), journal, logs: hr.logs.join('\n') }, { issued, ...Object.fromEntries(values.map((v, i) => [`f${i}`, v])) })
  })
})

/** Every text of the journal's rows, with each run's kept body (`request.raw`) left out. */
function databaseWithoutKeptBodies(path: string): string {
  const db = new Database(path, { readonly: true })
  try {
    const runs = db.prepare('SELECT * FROM runs').all() as Array<Record<string, unknown>>
    const steps = db.prepare('SELECT * FROM steps').all()
    const letters = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]
    const others = letters.filter((t) => !['runs', 'steps'].includes(t)).map((t) => db.prepare(`SELECT * FROM "${t}"`).all())
    const withoutRaw = runs.map((r) => ({ ...r, request: { ...JSON.parse(String(r['request'])), raw: '(left out)' } }))
    return JSON.stringify({ withoutRaw, steps, others })
  } finally {
    db.close()
  }
}
