/**
 * The secrets canary: a distinct value for every kind of secret, then successful and failing
 * runs, then a search of everything that leaves the process: the database file (and its WAL),
 * the log, the letters, the journal API and every answer, for every 8-character piece of each.
 * Zero hits. (secrets-extraction.test.ts tries the routes by which pieces used to get out.)
 */
import { describe, expect, it } from 'vitest'
import { expectNoFragments, journalFiles } from '../helpers/canary.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { BIZON, DIMAKER, startBizon, startDimaker, startGetcourse } from '../helpers/doubles.js'
import { startHookrelay, TOKEN } from '../helpers/hookrelay.js'
import { SMTP_AUTH, startSmtp } from '../helpers/smtp.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

/** Distinct, and unlike any word a journal holds, so that an 8-character piece found is a leak. */
const CANARY = {
  urlKey: 'cnQ5urlKy-5f0a9e',
  bizonToken: 'cnB7bzTk-7b21Xw',
  dimakerSecure: 'cnD3dmSc-3c44Rv',
  getcourseKey: 'cnG9gcKy-9d10Pm',
  authorization: 'cnA2brAu-8e55Ls',
  env: 'cnE6evVl-2a77Hq',
}

describe('secrets canary', () => {
  it('finds no secret anywhere after successful and failing runs', async () => {
    const bizon = await keep(startBizon(CANARY.bizonToken))
    const dimaker = await keep(startDimaker(CANARY.dimakerSecure))
    const getcourse = await keep(startGetcourse(CANARY.getcourseKey))
    // The CRM echoes every header and the body it got, as a careless API might.
    const crm = await keep(startStub((req, res) => json(res, req.query.get('fail') ? 500 : 200, { headers: req.headers, body: req.body })))
    const mailbox = await keep(startSmtp())
    const env = {
      BIZON_TOKEN: CANARY.bizonToken,
      DIMAKER_TOKEN: CANARY.dimakerSecure,
      GETCOURSE_KEY: CANARY.getcourseKey,
      CRM_AUTH: CANARY.authorization,
      CUSTOM: CANARY.env,
      SMTP_URL: mailbox.url,
    }
    const hr = await keep(
      startHookrelay(
        `
notify:
  email: { smtp: "\${SMTP_URL}", from: hookrelay@school.example, to: [ops@school.example], min_interval: 1s }
pipelines:
  - id: all
    source: { type: getcourse.user, key: ${CANARY.urlKey}, response: { body: "{{ steps.cert.link }}" } }
    actions:
      - id: crm
        type: http.request
        url: "${crm.url}/contacts?fail={{ in.fail | default: '' }}"
        headers: { Authorization: "Bearer \${CRM_AUTH}", X-Custom: "\${CUSTOM}" }
        body: { json: { email: "{{ in.email }}", echo: "\${CUSTOM}" } }
      - { id: reg, type: bizon365.subscribe, token: "\${BIZON_TOKEN}", page_id: "${BIZON.pageId}", email: "{{ in.email }}", base_url: "${bizon.url}" }
      - { id: cert, type: dimaker.create, secure: "\${DIMAKER_TOKEN}", doc_id: ${DIMAKER.docId}, masks: { name: "{{ in.first_name }}" }, base_url: "${dimaker.url}" }
      - { id: save, type: getcourse.update_user, base_url: "${getcourse.url}", key: "\${GETCOURSE_KEY}", user: { email: "{{ in.email }}" } }
  - id: wrong
    source: { type: http, key: ${CANARY.urlKey}-2 }
    actions:
      - { id: reg, type: bizon365.subscribe, token: "\${CUSTOM}", page_id: "nope", email: "a@b.ru", base_url: "${bizon.url}" }
`,
        { env },
      ),
    )
    const answers: string[] = []
    const call = async (path: string, init?: RequestInit) => {
      const res = await hr.call(path, init)
      answers.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`)
      return res
    }
    await call(`/hooks/all/${CANARY.urlKey}?email=ivan@example.com&first_name=Ivan`)
    await call(`/hooks/all/${CANARY.urlKey}?email=ivan@example.com&first_name=Ivan&fail=1`)
    await call(`/hooks/all/${CANARY.urlKey}?email=ivan@example.com&first_name=Ivan`, { method: 'POST', headers: { authorization: `Bearer ${CANARY.authorization}`, 'content-type': 'application/json' }, body: '{"broken' })
    await call(`/hooks/wrong/${CANARY.urlKey}-2`, { method: 'POST' })
    await call(`/hooks/all/${CANARY.urlKey}-nope`)
    await call(`/hooks/all/${CANARY.urlKey}`, { method: 'DELETE' })
    await mailbox.waitFor(2, 8000)

    const { runs } = await hr.journal('?limit=500')
    expect(runs.map((r: { status: string }) => r.status).sort()).toEqual(['failed', 'failed', 'ok', 'rejected', 'rejected'])
    // Every service was really called with its secret, so the masking is what kept them out.
    expect(bizon.requests[0]!.headers['x-token']).toBe(CANARY.bizonToken)
    expect(dimaker.requests[0]!.body).toContain(CANARY.dimakerSecure)
    expect(getcourse.requests[0]!.body).toContain(CANARY.getcourseKey)
    const journal = JSON.stringify(await Promise.all(runs.map((r: { id: string }) => hr.journal(`/${r.id}`))))
    expect(journal).toContain('***') // masking happened, not merely nothing recorded
    expect(crm.requests[0]!.headers['authorization']).toBe(`Bearer ${CANARY.authorization}`) // the real value was sent

    await hr.stop()
    const places: Record<string, string> = {
      database: journalFiles(hr.dir),
      logs: hr.logs.join('\n'),
      letters: mailbox.letters.map((l) => `${l.subject}\n${l.text}\n${JSON.stringify(l.headers)}`).join('\n'),
      journal,
      answers: answers.join('\n'),
    }
    expectNoFragments(places, { ...CANARY, smtp: SMTP_AUTH.pass, journalToken: TOKEN })
  })

  it('masks by where a value sits: JSON fields, lists, objects, form-encoded text, incoming credentials passed on', async () => {
    const crm = await keep(startStub((req, res) => json(res, 200, { headers: req.headers, body: req.body })))
    const formSecret = "canary(form)~!'*"
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: fwd
    source: { type: http, key: fwd-key-0123456789 }
    actions:
      - id: parsed
        type: json.parse
        fields: { auth: '["auth"]', login: '["login"]' }
      - id: json
        type: http.request
        url: "${crm.url}/json"
        headers: { X-Upstream-Auth: "{{ request.headers.authorization }}" }
        body: { json: { account: { api_key: "{{ in.code }}" }, codes: "{{ in.code }}", pass: "{{ steps.parsed.login.password }}" } }
      - id: form
        type: http.request
        url: "${crm.url}/form"
        body: { form: { token: "\${FORM_SECRET}", note: plain } }
`,
        { env: { FORM_SECRET: formSecret } },
      ),
    )
    const res = await hr.call('/hooks/fwd/fwd-key-0123456789?token=q-canary-one&token=q-canary-two', {
      method: 'POST',
      headers: { authorization: 'Bearer incoming-canary-auth', 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'json-field-canary', auth: { user: 'object-canary-user' }, login: { password: 'body-canary-password' } }),
    })
    expect(res.status).toBe(200)
    // The real values went out.
    expect(crm.requests[0]!.headers['x-upstream-auth']).toBe('Bearer incoming-canary-auth')
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({ account: { api_key: 'json-field-canary' }, codes: 'json-field-canary', pass: 'body-canary-password' })
    expect(crm.requests[1]!.body).toBe(new URLSearchParams({ token: formSecret, note: 'plain' }).toString())

    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.request.query).toEqual({ token: ['***', '***'] })
    expect(run.request.headers.authorization).toBe('***')
    const [parsedStep, jsonStep, formStep] = run.steps
    expect(parsedStep.output).toEqual({ auth: { user: '***' }, login: { password: '***' } })
    expect(jsonStep.request.headers['X-Upstream-Auth']).toBe('***')
    expect(JSON.parse(jsonStep.request.body)).toEqual({ account: { api_key: '***' }, codes: '***', pass: '***' })
    expect(formStep.request.body).toBe('token=***&note=plain')
    // Outside the incoming body (kept as sent, for replay), none of them is anywhere.
    const { request, ...rest } = run
    const seen = JSON.stringify({ rest, query: request.query, headers: request.headers }) + hr.logs.join('\n')
    const secrets = ['incoming-canary-auth', 'q-canary-one', 'q-canary-two', 'json-field-canary', 'object-canary-user', 'body-canary-password']
    for (const secret of [...secrets, formSecret, encodeURIComponent(formSecret)]) {
      expect(seen.includes(secret), `${secret} found`).toBe(false)
    }
    expect(seen).not.toContain('canary%28form%29')
  })
})
