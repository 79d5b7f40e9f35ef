/**
 * Issue 21, tried as an attacker with only a pipeline's public URL: no request may stall, crash
 * or out-spend the server, and the last ways a secret leaked are closed. Each case failed on the
 * code before (a crash, a stall past the test's timeout, a 500, a secret in an output).
 */
import { mkdtempSync, readdirSync, statSync, watch } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { FailureLimiter } from '../../src/journal/auth.js'
import { RUN_LEARNING } from '../../src/secrets/masker.js'
import { expectNoFragments } from '../helpers/canary.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { GETCOURSE, startGetcourse } from '../helpers/doubles.js'
import { postJson, startHookrelay, TOKEN, type TestService } from '../helpers/hookrelay.js'
import { run } from '../helpers/process.js'
import { expectHealthy } from '../helpers/raw.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

/** A pipeline that only keeps and answers, where most cases here send. */
const INTAKE = `
pipelines:
  - id: intake
    source: { type: http, key: intake-key-0123456789 }
    actions: []
`
const INTAKE_URL = '/hooks/intake/intake-key-0123456789'

/** Characters with many encoded forms each: quotes, a backslash, HTML's specials, non-Latin letters. */
const ESCAPES = '‹"\\&\'Ж'

describe('what a caller can make a run learn is bounded', () => {
  it('100 secret-named fields of 1 KB of escapes: answered, kept byte for byte, each hidden where it sits', async () => {
    const hr = await keep(startHookrelay(INTAKE))
    const values = Array.from({ length: 100 }, (_, i) => `${i}:${ESCAPES.repeat(170)}`)
    const body = JSON.stringify(Object.fromEntries(values.map((v, i) => [`password${i}`, v])))
    // Four distinct ones: the fourth crashed the server (heap out of memory) before.
    for (let n = 0; n < 4; n++) {
      const res = await hr.call(INTAKE_URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body.replaceAll('Ж', String(n)) })
      expect(res.status).toBe(200)
    }
    await expectHealthy(hr)
    const { runs } = await hr.journal()
    expect(runs).toHaveLength(4)
    const last = await hr.journal(`/${runs[0].id}`)
    expect(Object.values(last.request.body).every((v) => v === '***')).toBe(true)
    // Not one of them fits the budget of search text: none is learned, every one is hidden by its name.
    expect(last.warnings).toEqual([expect.stringMatching(/^100 secret values were not learned/)])
    const kept = await readJournal(hr, (db) => JSON.parse(db.prepare('SELECT request FROM runs WHERE id = ?').pluck().get(runs[0].id) as string))
    expect(kept.raw).toBe(body.replaceAll('Ж', '3')) // replay needs the body as sent
  })

  it('learns at most the budget from a URL full of scheme://user@ parts, and shows none of them', async () => {
    const upstream = await keep(startStub(undefined, { maxHeaderSize: 1 << 20 }))
    const hr = await keep(startHookrelay(`
pipelines:
  - id: link
    source: { type: http, key: link-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${upstream.url}/{{ in.path }}" }
`))
    const users = Array.from({ length: 5000 }, (_, i) => `u${i}k9Secretpart`)
    const res = await hr.call('/hooks/link/link-key-0123456789', postJson({ path: users.map((u) => `x://${u}@`).join('') }))
    expect(res.status).toBe(200)
    const runView = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    const notLearned = Number(/^(\d+) secret values were not learned/.exec(runView.warnings[0])?.[1])
    // Each user name is learned as written and decoded (the same text twice): the budget's values.
    expect(notLearned).toBe(users.length - RUN_LEARNING.values)
    expect(runView.steps[0].request.url).toBe(`${upstream.url}/${'x://***@'.repeat(users.length)}`)
  })

  it("a caller who fills the budget of what a run sends cannot keep the token a login step issued from being hidden", async () => {
    const issued = 'Sx4kIssuedSession9Qv'
    const upstream = await keep(
      startStub(
        (req, res) => {
          if (req.path === '/login') return void res.end(issued) // a session token as plain text
          json(res, 200, { got: req.headers }) // echoes what it was sent, credentials too
        },
        { maxHeaderSize: 1 << 20 },
      ),
    )
    const hr = await keep(startHookrelay(`
pipelines:
  - id: chain
    source: { type: http, key: chain-key-0123456789 }
    actions:
      - { id: noise, type: http.request, url: "${upstream.url}/{{ in.path }}" }
      - { id: login, type: http.request, url: "${upstream.url}/login", body: { form: { user: robot } } }
      - { id: use, type: http.request, url: "${upstream.url}/use", headers: { Authorization: "Bearer {{ steps.login.body }}" } }
`))
    const path = Array.from({ length: 200 }, (_, i) => `x://u${i}k9Secretpart@`).join('')
    const res = await hr.call('/hooks/chain/chain-key-0123456789', postJson({ path }))
    expect(res.status).toBe(200)
    expect(upstream.requests.at(-1)!.headers['authorization']).toBe(`Bearer ${issued}`)
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.warnings).toEqual([expect.stringMatching(/^168 secret values were not learned/)])
    expectNoFragments({ journal: JSON.stringify(run), logs: hr.logs.join('\n') }, { issued })
  })

  it('a 200,000-letter value in a URL with a literal host is answered (a regular expression took minutes over it)', async () => {
    const upstream = await keep(startStub(undefined, { maxHeaderSize: 1 << 20 }))
    const hr = await keep(startHookrelay(`
pipelines:
  - id: crm
    source: { type: http, key: crm-key-0123456789 }
    actions:
      - { id: find, type: http.request, url: "${upstream.url}/find?email={{ in.email }}" }
`))
    const email = `${'a'.repeat(200_000)}@example.com`
    const res = await hr.call('/hooks/crm/crm-key-0123456789', postJson({ email }))
    expect(res.status).toBe(200)
    expect(upstream.requests[0]!.query.get('email')).toBe(email)
    await expectHealthy(hr)
  })
})

describe('every recursion on caller data is bounded', () => {
  it('a Tilda cart nested 20,000 deep: 400 naming the bound, kept byte for byte', async () => {
    const hr = await keep(startHookrelay(`
pipelines:
  - id: tilda
    source: { type: tilda, key: tilda-key-0123456789 }
    actions: []
`))
    const body = `formid=form1&name=Ivan&payment${'[a]'.repeat(20_000)}=1`
    const res = await hr.call('/hooks/tilda/tilda-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    expect(res.status).toBe(400)
    const answer = (await res.json()) as { code: string; error: string; run_id: string }
    expect(answer).toMatchObject({ code: 'HR_BODY_TOO_DEEP', error: 'request body nests deeper than 64 levels' })
    const kept = await hr.journal(`/${answer.run_id}`)
    expect(kept).toMatchObject({ status: 'rejected', error: 'request body nests deeper than 64 levels' })
    expect(kept.request.raw).toBe(body)
    // A cart as deep as the bound still runs.
    const deepest = `formid=form1&payment${'[a]'.repeat(64)}=1`
    const ok = await hr.call('/hooks/tilda/tilda-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: deepest })
    expect(ok.status).toBe(200)
  })

  it("a Tilda cart sent as a JSON string nested 20,000 deep: the same 400", async () => {
    const hr = await keep(startHookrelay(`
pipelines:
  - id: tilda
    source: { type: tilda, key: tilda-key-0123456789, response: { body: "{{ in | json }}" } }
    actions: []
`))
    const body = new URLSearchParams({ formid: 'form1', payment: `${'['.repeat(20_000)}${']'.repeat(20_000)}` }).toString()
    const res = await hr.call('/hooks/tilda/tilda-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { code: string }).code).toBe('HR_BODY_TOO_DEEP')
  })

  it('a form body that is not valid UTF-8: 400, and its bytes kept as they came (base64), not with U+FFFD', async () => {
    const hr = await keep(startHookrelay(`
pipelines:
  - id: form
    source: { type: http, key: form-key-0123456789 }
    actions: []
`))
    const bytes = Buffer.concat([Buffer.from('name=Ivan&city='), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('&x=1')])
    const res = await hr.call('/hooks/form/form-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: bytes })
    expect(res.status).toBe(400)
    const answer = (await res.json()) as { code: string; run_id: string }
    expect(answer.code).toBe('HR_BAD_ENCODING')
    const kept = await hr.journal(`/${answer.run_id}`)
    expect(kept.request.encoding).toBe('base64')
    expect(Buffer.from(kept.request.raw, 'base64').equals(bytes)).toBe(true)
  })
})

describe('the leaks that were left', () => {
  it('getcourse.update_user: a password in addfields is hidden inside the base64 params the journal keeps', async () => {
    const gc = await keep(startGetcourse())
    const password = 'Pw7xGcImportSecret2Kq'
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: gc
    source: { type: http, key: gc-key-0123456789 }
    actions:
      - id: save
        type: getcourse.update_user
        key: \${GC_KEY}
        base_url: ${gc.url}
        user: { email: "{{ in.email }}", addfields: { password: "{{ in.pass }}", "Город": "{{ in.city }}" } }
`,
        { env: { GC_KEY: GETCOURSE.key } },
      ),
    )
    const res = await hr.call('/hooks/gc/gc-key-0123456789', postJson({ email: 'ivan@example.com', pass: password, city: 'Москва' }))
    expect(res.status).toBe(200)
    expect(gc.decoded()[0]).toMatchObject({ user: { addfields: { password } } }) // GetCourse got it
    const step = (await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)).steps[0]
    const form = new URLSearchParams(step.request.body)
    expect(form.get('key')).toBe('***')
    expect(JSON.parse(Buffer.from(form.get('params')!, 'base64').toString('utf8'))).toEqual({
      user: { email: 'ivan@example.com', addfields: { password: '***', Город: 'Москва' } },
      system: { refresh_if_exists: 1 },
    })
    expect(step.request.params.user.addfields.password).toBe('***')
    // In the database, every step's params decoded: the password is in none (only in the body kept to replay).
    const requests = await readJournal(hr, (db) => db.prepare('SELECT request FROM steps').pluck().all() as string[])
    const decoded = requests.map((r) => Buffer.from(new URLSearchParams((JSON.parse(r) as { body: string }).body).get('params') ?? '', 'base64').toString('utf8'))
    expectNoFragments({ steps: requests.join('\n'), params: decoded.join('\n') }, { password })
  })

  it("VK: an answer's key is the form's data (first_name stays readable); an answer keyed password is hidden in the raw body too", async () => {
    const crm = await keep(startStub())
    const password = 'Vk5pAnswerSecret8Lm'
    const hr = await keep(startHookrelay(`
pipelines:
  - id: vk
    source: { type: vk, key: vk-key-0123456789, confirmation: abc123 }
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/leads", body: { json: "{{ in }}" } }
`))
    const lead = {
      type: 'lead_forms_new',
      event_id: 'ev-1',
      group_id: 1,
      object: {
        lead_id: 7,
        group_id: 1,
        user_id: 2,
        form_id: 3,
        form_name: 'Пробный урок',
        answers: [
          { key: 'first_name', question: 'Имя', answer: 'Иван' },
          { key: 'phone_number', question: 'Телефон', answer: '+79990000000' },
          { key: 'password', question: 'Пароль', answer: password },
        ],
      },
    }
    const res = await hr.call('/hooks/vk/vk-key-0123456789', postJson(lead))
    expect(res.status).toBe(200)
    const runView = await until(async () => {
      const found = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
      return found.status === 'ok' ? found : undefined
    })
    expect(JSON.parse(crm.requests[0]!.body)).toMatchObject({ first_name: 'Иван', phone_number: '+79990000000', password })
    expect(JSON.parse(runView.steps[0].request.body)).toMatchObject({ first_name: 'Иван', phone_number: '+79990000000', password: '***' })
    expect(runView.request.body.object.answers).toEqual([
      { key: 'first_name', question: 'Имя', answer: 'Иван' },
      { key: 'phone_number', question: 'Телефон', answer: '+79990000000' },
      { key: 'password', question: 'Пароль', answer: '***' },
    ])
    expect(runView.request.raw).not.toContain(password)
    expect(JSON.parse(runView.request.raw).object.answers[0]).toEqual({ key: 'first_name', question: 'Имя', answer: 'Иван' })
  })

  it('a duplicate gets exactly the answer the first caller got, also what the operator wrote from ${ENV}', async () => {
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: form
    source:
      type: http
      key: form-key-0123456789
      dedupe: "{{ in.email }}"
      response: { headers: { Access-Control-Allow-Origin: "\${SITE_ORIGIN}", X-School: "\${SCHOOL_CODE}" }, body: '{"ok":true,"school":"\${SCHOOL_CODE}"}' }
    actions: []
`,
        { env: { SITE_ORIGIN: 'https://school-site.example', SCHOOL_CODE: 'Sc4hSchoolCode9Zx' } },
      ),
    )
    const send = () => hr.call('/hooks/form/form-key-0123456789', postJson({ email: 'ivan@example.com' }))
    const first = await send()
    const firstBody = await first.text()
    expect(first.headers.get('x-school')).toBe('Sc4hSchoolCode9Zx')
    const kept = await hr.journal(`/${first.headers.get('x-hookrelay-run')}`)
    expect(kept.response.headers).toMatchObject({ 'Access-Control-Allow-Origin': 'https://school-site.example', 'X-School': '***' })
    expect(kept.response.body).toBe('{"ok":true,"school":"***"}')
    const again = await send()
    const duplicate = await hr.journal(`/${again.headers.get('x-hookrelay-run')}`)
    expect(duplicate.status).toBe('duplicate')
    expect(again.headers.get('access-control-allow-origin')).toBe('https://school-site.example')
    expect(again.headers.get('x-school')).toBe('Sc4hSchoolCode9Zx')
    expect(await again.text()).toBe(firstBody)
    expect(duplicate.response.headers['X-School']).toBe('***')
  })

  it('a URL from ${ENV} is shown with only its credentials hidden', async () => {
    const crm = await keep(startStub())
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: crm
    source: { type: http, key: crm-key-0123456789 }
    actions:
      - { id: plain, type: http.request, url: "\${CRM_URL}/api/v1/contacts" }
      - { id: keyed, type: http.request, url: "\${CRM_KEYED}" }
      - { id: login, type: http.request, url: "\${CRM_LOGIN}" }
      - { id: zap, type: http.request, url: "\${ZAP_URL}" }
`,
        {
          env: {
            CRM_URL: crm.url,
            CRM_KEYED: `${crm.url}/hook?api_token=Qk3tQueryToken8Vb&list=7&code=Az7cFunctionCode2Wq`,
            CRM_LOGIN: `http://robot:Lp2wLoginPass6Rt@${crm.url.slice('http://'.length)}/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/send`,
            ZAP_URL: `${crm.url}/hooks/catch/1234567/b3xk9qz/`,
          },
        },
      ),
    )
    const res = await hr.call('/hooks/crm/crm-key-0123456789', { method: 'POST' })
    expect(res.status).toBe(200)
    const { steps } = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(steps.map((s: { request: { url: string } }) => s.request.url)).toEqual([
      `${crm.url}/api/v1/contacts`,
      `${crm.url}/hook?api_token=***&list=7&code=***`,
      `${crm.url}/***/send`,
      `${crm.url}/hooks/catch/***/***/`,
    ])
    expect(crm.requests[2]!.path).toBe('/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/send')
    expectNoFragments(
      { journal: JSON.stringify(steps), logs: hr.logs.join('\n') },
      { query: 'Qk3tQueryToken8Vb', code: 'Az7cFunctionCode2Wq', password: 'Lp2wLoginPass6Rt', path: 'AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw', zap: '1234567/b3xk9qz' },
    )
  })

  it('a JSON body sent as a form, and a form whose secret name is percent-encoded: hidden in the body the journal shows', async () => {
    const hr = await keep(startHookrelay(INTAKE))
    const send = (body: string) => hr.call(INTAKE_URL, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    const asForm = await send('{"password":"Hk2vJsonAsForm7Zq","note":"x"}') // what PHP's curl sends by default
    const encoded = await send('%70assword=Pe5nEncodedName3Wd&name=Ivan')
    for (const res of [asForm, encoded]) expect(res.status).toBe(200)
    const views = await Promise.all([asForm, encoded].map((res) => hr.journal(`/${res.headers.get('x-hookrelay-run')}`)))
    expect(views[1].request.raw).toBe('password=***&name=Ivan')
    expectNoFragments({ journal: JSON.stringify(views) }, { json: 'Hk2vJsonAsForm7Zq', encoded: 'Pe5nEncodedName3Wd' })
  })

  it("a duplicate is given the answer the first run gave, never another answer's constant", async () => {
    const hr = await keep(startHookrelay(`
pipelines:
  - id: form
    source:
      type: http
      key: form-key-0123456789
      dedupe: "{{ in.email }}"
      response: { headers: { X-Session-Token: "{{ in.session }}" }, body: ok }
      on_error: { status: 200, headers: { X-Session-Token: error-no-session }, body: sorry }
    actions: []
`))
    const send = () => hr.call('/hooks/form/form-key-0123456789', postJson({ email: 'ivan@example.com', session: 's-ivan-7Hq2Lm9Xk' }))
    const first = await send()
    expect(first.headers.get('x-session-token')).toBe('s-ivan-7Hq2Lm9Xk')
    const again = await send()
    expect((await hr.journal(`/${again.headers.get('x-hookrelay-run')}`)).status).toBe('duplicate')
    // A secret-named header the first answer made from the request is kept masked: the duplicate gets that, not on_error's.
    expect(again.headers.get('x-session-token')).toBe('***')
    expect(await again.text()).toBe('ok')
  })

  it('search: values under secret names are not in the index, so no search finds or waits on them', async () => {
    const hr = await keep(startHookrelay(INTAKE))
    const secret = 'Zx9qSearchable4Secret'
    for (let i = 0; i < 3; i++) await hr.call(INTAKE_URL, postJson({ email: `lead${i}@example.com`, password: `${secret}${i}` }))
    expect((await hr.journal('?q=lead1@example')).runs).toHaveLength(1)
    expect((await hr.journal(`?q=${secret.slice(2, 12)}`)).runs).toEqual([])
    // The index itself, once the writer thread has filled it (when idle): the email is in it, the password is not.
    const [email, hidden] = await indexHits(hr, 3, '"lead1@example"', `"${secret.slice(2, 12)}"`)
    expect(email).toHaveLength(1)
    expect(hidden).toEqual([])
  })
  it('search: a run indexed before it learned a secret is indexed again from what it shows at its end', async () => {
    const token = 'Tq8mLateLearned3Zv'
    const upstream = await keep(
      startStub(async (req, res) => {
        // The login answers the token the caller named, after a while: the run is indexed meanwhile.
        if (req.path === '/login') {
          await new Promise((r) => setTimeout(r, 300))
          return void res.end(new URLSearchParams(req.body).get('code') ?? '')
        }
        json(res, 200, { ok: true })
      }),
    )
    const hr = await keep(startHookrelay(`
pipelines:
  - id: late
    source: { type: http, key: late-key-0123456789 }
    actions:
      - { id: login, type: http.request, url: "${upstream.url}/login", body: { form: { code: "{{ in.code }}" } } }
      - { id: use, type: http.request, url: "${upstream.url}/use", headers: { Authorization: "Bearer {{ steps.login.body }}" } }
`))
    const res = await hr.call('/hooks/late/late-key-0123456789', postJson({ code: token, email: 'ivan@example.com' }))
    expect(res.status).toBe(200)
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(JSON.parse(run.request.raw)).toEqual({ code: '***', email: 'ivan@example.com' }) // learned late, hidden in the body shown
    const [email, learned] = await indexHits(hr, 1, '"ivan@example"', `"${token.slice(3, 12)}"`)
    expect(email).toHaveLength(1)
    expect(learned).toEqual([])
  })
})

describe('files and limits', () => {
  it('the journal, its WAL and its lock are 0600 in a 0700 folder it makes, under the usual umask 022', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookrelay-modes-'))
    const before = process.umask(0o022)
    try {
      const hr = await keep(startHookrelay(`
journal: { path: ${join(dir, 'data', 'journal.db')}, token: ${TOKEN} }
${INTAKE}`, { dir }))
      expect((await hr.call(INTAKE_URL, postJson({ email: 'ivan@example.com' }))).status).toBe(200)
      const data = join(dir, 'data')
      expect(statSync(data).mode & 0o777).toBe(0o700)
      const files = readdirSync(data).sort()
      expect(files).toEqual(expect.arrayContaining(['journal.db', 'journal.db-shm', 'journal.db-wal', 'journal.db.lock']))
      for (const file of files) expect([file, statSync(join(data, file)).mode & 0o777]).toEqual([file, 0o600])
    } finally {
      process.umask(before)
    }
  })

  it('a backup is private from its first byte: its .partial file is 0600 when it appears', async () => {
    const hr = await keep(startHookrelay(INTAKE))
    // Enough runs that the copy takes a while (the old code made the copy under the umask, and chmod'ed it at the end).
    const pad = 'x'.repeat(20_000)
    for (let i = 0; i < 300; i++) await hr.call(INTAKE_URL, postJson({ email: `lead${i}@example.com`, pad }))
    const modes: number[] = []
    const watcher = watch(hr.dir, (_event, name) => {
      if (!name?.includes('.partial')) return
      try {
        modes.push(statSync(join(hr.dir, name)).mode & 0o777)
      } catch {
        // gone already
      }
    })
    // The .partial file lives while the copy is made and checked; on a busy machine the watcher
    // may see none of it: then the backup is taken again (at most three times).
    try {
      for (let attempt = 0; attempt < 3 && modes.length === 0; attempt++) {
        const before = process.umask(0o022) // what the backup's process starts with
        try {
          const result = await run(['backup', join(hr.dir, `copy-${attempt}.db`), '--config', join(hr.dir, 'config.yaml')])
          expect(result.code).toBe(0)
        } finally {
          process.umask(before)
        }
      }
    } finally {
      watcher.close()
    }
    expect(modes.length).toBeGreaterThan(0)
    expect(modes.every((m) => m === 0o600)).toBe(true)
    expect(statSync(join(hr.dir, 'copy-0.db')).mode & 0o777).toBe(0o600)
  })

  it('wrong tokens from 10,000 other addresses do not clear a locked-out address; past the bound they are limited together', () => {
    const limiter = new FailureLimiter()
    const now = 1_000_000
    for (let i = 0; i < 10; i++) limiter.fail('198.51.100.7', now)
    expect(limiter.blockedFor('198.51.100.7', now)).toBe(60)
    for (let i = 0; i < 10_000; i++) limiter.fail(`2001:db8::${i.toString(16)}`, now + 1)
    expect(limiter.blockedFor('198.51.100.7', now + 2)).toBe(60)
    // Addresses past the bound share one count: ten more wrong tokens between them, and all of them wait.
    for (let i = 0; i < 10; i++) limiter.fail(`2001:db8:1::${i}`, now + 3)
    expect(limiter.blockedFor('2001:db8:2::1', now + 4)).toBe(60)
    // Once the windows end, every address is counted on its own again.
    expect(limiter.blockedFor('198.51.100.7', now + 60_000)).toBe(0)
    limiter.fail('203.0.113.9', now + 61_000)
    expect(limiter.blockedFor('203.0.113.9', now + 61_000)).toBe(0)
  })
})

/** What `read` reads from the journal's file, opened read-only beside the server. */
async function readJournal<T>(hr: TestService, read: (db: Database.Database) => T | Promise<T>): Promise<T> {
  const db = new Database(hr.dbPath, { readonly: true })
  try {
    return await read(db)
  } finally {
    db.close()
  }
}

/** The search index's rows for each FTS5 `query`, once the writer thread has indexed `runs` runs (it does when idle). */
function indexHits(hr: TestService, runs: number, ...queries: string[]): Promise<number[][]> {
  return readJournal(hr, async (db) => {
    await until(() => (db.prepare('SELECT last_rowid FROM search_state').pluck().get() === runs ? true : undefined))
    const match = db.prepare('SELECT rowid FROM runs_search WHERE text MATCH ?').pluck()
    return queries.map((query) => match.all(query) as number[])
  })
}

/** Polls `probe` until it returns something (bounded: 200 tries, 25 ms apart). */
async function until<T>(probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const found = await probe()
    if (found !== undefined) return found
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('gave up waiting')
}

