/**
 * The five seed flows, each from its example file, end to end against the doubles: the request
 * shaped as GetCourse or Tilda sends it, the exact request the real service would receive, and
 * the answer the caller gets.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from './helpers/cleanup.js'
import { GETCOURSE_FIELDS, placeholderQuery } from '../src/sources/getcourse.js'
import { BIZON, DIMAKER, GETCOURSE, params, startBizon, startDimaker, startGetcourse, startGraph, startVkAds } from './helpers/doubles.js'
import { EXAMPLE_KEY, startExample, type TestService } from './helpers/hookrelay.js'
import { run } from './helpers/process.js'
import { startSmtp, type Mailbox } from './helpers/smtp.js'
import { json, startStub, type Stub } from './helpers/stub.js'

const keep = closeAfterEach()

const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/apis/${name}`, 'utf8')) as Record<string, any>
const ORDER = fixture('getcourse-order-created.request.json')['expectedParsedQuery'] as Record<string, string>
const USER = fixture('getcourse-user-created.request.json')['expectedParsedQuery'] as Record<string, string>

/** What GetCourse substitutes for each placeholder of our URL (unknown ones come empty, `city=`). */
const VALUES: Record<string, string> = {
  '{object.id}': USER['gc_user_id']!,
  '{object.email}': USER['email']!,
  '{object.phone}': USER['phone']!,
  '{object.first_name}': USER['first_name']!,
  '{object.last_name}': USER['last_name']!,
  '{object.name}': USER['name']!,
  '{object.city}': USER['city']!,
  '{object.create_session.utm_source}': USER['utm_source']!,
}
const ORDER_VALUES: Record<string, string> = {
  '{object.id}': ORDER['order_id']!,
  '{object.number}': ORDER['number']!,
  '{object.status}': ORDER['status']!,
  '{object.positions}': ORDER['positions']!,
  '{object.cost_money_value}': ORDER['cost']!,
  '{object.cost_money}': ORDER['cost_money']!,
  '{object.payment_link}': ORDER['payment_link']!,
  "{object.created_at format='Y-m-d H:i:s'}": ORDER['created_at']!,
  '{object.deal_utm_source}': ORDER['utm_source']!,
  '{object.user.id}': ORDER['user_id']!,
  '{object.user.email}': ORDER['email']!,
  '{object.user.phone}': ORDER['phone']!,
  '{object.user.first_name}': ORDER['first_name']!,
  '{object.user.last_name}': ORDER['last_name']!,
}

/** The query string GetCourse sends for our printed URL: every placeholder filled and percent-encoded. */
function filled(type: 'getcourse.user' | 'getcourse.order', values: Record<string, string>): string {
  return placeholderQuery(type).replace(/\{object\.[^}]*\}/g, (p) => encodeURIComponent(values[p] ?? ''))
}

describe('every example', () => {
  const files = readdirSync('examples').filter((f) => f.endsWith('.yaml'))

  it('is one per seed flow', () => {
    expect(files.sort()).toEqual([
      'facebook-leads-to-bizon365.yaml',
      'getcourse-dimaker-certificates.yaml',
      'getcourse-order-to-bizon365.yaml',
      'getcourse-user-to-http-request.yaml',
      'http-request-action.yaml',
      'http-request-to-bizon365.yaml',
      'platformalp.yaml',
      'tilda-to-bizon365.yaml',
      'vk-ads-leads-to-crm.yaml',
      'vk-lead-to-crm.yaml',
    ])
  })

  it.each(files)('%s passes hookrelay check once its key is set, and names the variable when it is not', async (file) => {
    const { code, stdout } = await run(['check', '--config', `examples/${file}`], { env: { HOOK_KEY: EXAMPLE_KEY } })
    expect(code).toBe(0)
    expect(stdout).toContain('ok, 1 pipeline')
    if (file === 'vk-ads-leads-to-crm.yaml') return // polled: it has no URL, so no key
    const unset = await run(['check', '--config', `examples/${file}`])
    expect(unset.code).toBe(1)
    expect(unset.stderr).toContain('source.key: environment variable HOOK_KEY is not set')
  })
})

describe('getcourse-order-to-bizon365', () => {
  it('registers the buyer of a new order and mails the link', async () => {
    const bizon = await keep(startBizon())
    const mailbox: Mailbox = await keep(startSmtp())
    const hr: TestService = await keep(
      startExample('examples/getcourse-order-to-bizon365.yaml', { BIZON_TOKEN: BIZON.token, BIZON_BASE_URL: bizon.url, SMTP_URL: mailbox.url }),
    )
    const query = filled('getcourse.order', ORDER_VALUES)
    expect(query).toContain('first_name=%D0%98%D0%B2%D0%B0%D0%BD') // Иван, as GetCourse encodes it
    const res = await hr.call(`/hooks/gc-order-to-bizon/${EXAMPLE_KEY}${query}`, { headers: { accept: '*/*' } })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('ok')

    expect(bizon.requests).toHaveLength(1)
    const got = bizon.requests[0]!
    expect(got.method).toBe('POST')
    expect(got.path).toBe('/api/v1/webinars/subpages/addSubscriber')
    expect(got.headers['x-token']).toBe(BIZON.token)
    expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(params(got)).toEqual({
      pageId: '123456:my-webinar',
      email: 'ivan.petrov@example.com',
      username: 'Иван Петров',
      phone: '+79990000000',
      time: '2026-12-01T20:00:00.000+03:00',
      utm_source: 'vk',
      utm_campaign: 'order-6543',
    })

    const [letter] = await mailbox.waitFor(1)
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    const hash = JSON.parse(run.steps[0].response.body).hash as string
    expect(letter!.to).toMatchObject({ text: 'ivan.petrov@example.com' })
    expect(letter!.subject).toBe('Ваша ссылка на вебинар')
    expect(letter!.text).toContain(`https://online.bizon365.ru/click/${hash}`)
    expect(run.status).toBe('ok')
    expect(JSON.stringify(run)).not.toContain(BIZON.token)
  })
})

describe('http-request-to-bizon365', () => {
  it('parses the posted JSON and registers the person', async () => {
    const bizon = await keep(startBizon())
    const hr = await keep(startExample('examples/http-request-to-bizon365.yaml', { BIZON_TOKEN: BIZON.token, BIZON_BASE_URL: bizon.url }))
    const res = await hr.call(`/hooks/landing-to-bizon/${EXAMPLE_KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://landing.example' },
      body: JSON.stringify({ firstName: 'Александр', email: 'alex@example.com', phone: '+79090000001' }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const body = (await res.json()) as { ok: boolean; webinar: string }
    expect(body.ok).toBe(true)
    expect(body.webinar).toMatch(/^https:\/\/online\.bizon365\.ru\/click\/[0-9a-f]{24}$/)
    expect(bizon.requests).toHaveLength(1)
    expect(bizon.requests[0]).toMatchObject({ method: 'POST', path: '/api/v1/webinars/subpages/addSubscriber' })
    expect(bizon.requests[0]!.headers['x-token']).toBe(BIZON.token)
    expect(params(bizon.requests[0]!)).toEqual({
      pageId: '123456:my-webinar',
      email: 'alex@example.com',
      username: 'Александр',
      phone: '+79090000001',
      time: '2026-12-01T20:00:00.000+03:00',
    })
  })
})

describe('getcourse-user-to-http-request', () => {
  it('sends a new user, posted as a form by GetCourse, to the CRM as JSON', async () => {
    const crm: Stub = await keep(startStub((_req, res) => json(res, 201, { id: 'c-1' })))
    const hr = await keep(startExample('examples/getcourse-user-to-http-request.yaml', { CRM_URL: `${crm.url}/api/contacts`, CRM_TOKEN: 'crm-token-abc123' }))
    const form = new URLSearchParams({ id: '423379541', email: 'ivan.petrov@example.com', phone: '+79990000000', first_name: 'Иван', last_name: 'Петров', city: '', utm_source: '{object.create_session.utm_source}' })
    const res = await hr.call(`/hooks/gc-user-to-crm/${EXAMPLE_KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    })
    expect(res.status).toBe(200)
    const got = crm.requests[0]!
    expect(got.method).toBe('POST')
    expect(got.url).toBe('/api/contacts?source=getcourse')
    expect(got.headers['authorization']).toBe('Bearer crm-token-abc123')
    expect(got.headers['content-type']).toBe('application/json')
    expect(JSON.parse(got.body)).toEqual({
      getcourse_id: '423379541',
      email: 'ivan.petrov@example.com',
      phone: '+79990000000',
      name: 'Иван Петров',
      city: '',
      utm: { source: '', campaign: '' },
    })
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.warnings).toEqual([
      "field 'utm_source' arrived as '{object.create_session.utm_source}': GetCourse did not fill the placeholder in, so it counts as missing",
    ])
    expect(JSON.stringify(run)).not.toContain('crm-token-abc123')
  })
})

describe('getcourse-dimaker-certificates', () => {
  it('creates the certificate, answers GetCourse the bare link and writes it back to the user', async () => {
    const dimaker = await keep(startDimaker())
    const getcourse = await keep(startGetcourse())
    const hr = await keep(
      startExample('examples/getcourse-dimaker-certificates.yaml', {
        DIMAKER_TOKEN: DIMAKER.secure,
        DIMAKER_BASE_URL: dimaker.url,
        GETCOURSE_KEY: GETCOURSE.key,
        GETCOURSE_BASE_URL: getcourse.url,
      }),
    )
    const res = await hr.call(`/hooks/gc-certificate/${EXAMPLE_KEY}${filled('getcourse.user', VALUES)}`)
    expect(res.status).toBe(200)
    const link = await res.text()
    expect(link).toMatch(/^https:\/\/dimaker\.app\/d\/[0-9a-f-]{36}\.pdf$/)
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')

    const sent = dimaker.requests[0]!
    expect(sent.method).toBe('POST')
    expect(sent.path).toBe('/api/v1/create/')
    expect(params(sent)).toEqual({
      secure: DIMAKER.secure,
      doc_id: 'b75b01cf-c732-49c6-80a0-77dd051a8299',
      folder_id: '5a390b28-9845-4c01-b94a-7d252b115e2e',
      mail_id: 'fb5eff48-4c08-4df7-a9e6-29e17896317c',
      mask_name: 'Петров Иван',
      mask_email: 'ivan.petrov@example.com',
      mask_filename: 'Сертификат Петров Иван',
      result: 'link',
    })

    const wrote = getcourse.requests[0]!
    expect(wrote.method).toBe('POST')
    expect(wrote.path).toBe('/pl/api/users')
    expect(params(wrote)).toMatchObject({ action: 'add', key: GETCOURSE.key })
    expect(getcourse.decoded()).toEqual([{ user: { email: 'ivan.petrov@example.com', addfields: { Сертификат: link } }, system: { refresh_if_exists: 1 } }])

    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.steps.map((s: { id: string; status: string }) => `${s.id}:${s.status}`)).toEqual(['cert:ok', 'save-link:ok'])
    expect(run.steps[1].request.params).toEqual(getcourse.decoded()[0])
    const text = JSON.stringify(run)
    expect(text).not.toContain(DIMAKER.secure)
    expect(text).not.toContain(GETCOURSE.key)
  })
})

describe('http-request-action', () => {
  it('enrols a Tilda form submission and answers Tilda 200, also for its test request', async () => {
    const bizon = await keep(startBizon())
    const hr = await keep(startExample('examples/http-request-action.yaml', { BIZON_TOKEN: BIZON.token, BIZON_BASE_URL: bizon.url }))
    const tilda = fixture('tilda.form-submit.json')
    const res = await hr.call(`/hooks/tilda-to-course/${EXAMPLE_KEY}`, { method: 'POST', headers: tilda['headers'], body: tilda['body'] })
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('ok') // answered once kept: the enrolment may still be going on
    await expect.poll(() => bizon.requests.length).toBe(1)
    const got = bizon.requests[0]!
    expect(got.path).toBe('/api/v1/course/student/add')
    expect(got.headers['x-token']).toBe(BIZON.token)
    expect(params(got)).toEqual({ email: 'ivan.petrov@example.com', username: 'Иван' })

    const test = fixture('tilda.test-request.json')
    const check = await hr.call(`/hooks/tilda-to-course/${EXAMPLE_KEY}`, { method: 'POST', headers: test['headers'], body: test['body'] })
    expect([check.status, await check.text()]).toEqual([200, 'ok'])
    expect(bizon.requests).toHaveLength(1) // the connection check runs nothing
    const run = await hr.journal(`/${check.headers.get('x-hookrelay-run')}`)
    expect(run).toMatchObject({ status: 'skipped', warnings: ['Tilda connection check (test=test): answered ok, nothing run'] })
  })
})

describe('lead-form senders, each from its example', () => {
  it('tilda-to-bizon365: a form submission registers the person, the connection check runs nothing', async () => {
    const bizon = await keep(startBizon())
    const hr = await keep(startExample('examples/tilda-to-bizon365.yaml', { BIZON_TOKEN: BIZON.token, BIZON_BASE_URL: bizon.url }))
    const path = `/hooks/tilda-to-bizon/${EXAMPLE_KEY}`
    const check = fixture('tilda.test-request.json')
    expect(await (await hr.call(path, { method: 'POST', headers: check['headers'], body: check['body'] })).text()).toBe('ok')
    const form = fixture('tilda.form-submit.json')
    expect(await (await hr.call(path, { method: 'POST', headers: form['headers'], body: form['body'] })).text()).toBe('ok')
    await expect.poll(() => bizon.requests.length).toBe(1)
    expect(params(bizon.requests[0]!)).toMatchObject({ pageId: BIZON.pageId, email: 'ivan.petrov@example.com', username: 'Иван', phone: '+7 (999) 000-00-00', utm_source: 'tilda:form123456789' })
  })

  it('vk-lead-to-crm: confirmed with the code, then each lead to the CRM once', async () => {
    const crm = await keep(startStub())
    const { confirmation_code: code, secret } = fixture('vk.confirmation.json')['config']
    const hr = await keep(startExample('examples/vk-lead-to-crm.yaml', { VK_CONFIRMATION: code, VK_SECRET: secret, CRM_URL: `${crm.url}/leads`, CRM_TOKEN: 'crm-token-0123456789' }))
    const path = `/hooks/vk-leads/${EXAMPLE_KEY}`
    const [confirm] = fixture('vk.confirmation.json')['cases']
    expect(await (await hr.call(path, { method: 'POST', headers: confirm.request.headers, body: confirm.request.body })).text()).toBe(code)
    const [lead, retry] = fixture('vk.lead_forms_new.json')['cases']
    for (const c of [lead, retry]) expect(await (await hr.call(path, { method: 'POST', headers: c.request.headers, body: c.request.body })).text()).toBe('ok')
    await expect.poll(() => crm.requests.length).toBe(1)
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({
      source: 'vk:Запись на пробный урок',
      name: 'Иван Петров',
      phone: '+7 (999) 000-00-00',
      email: 'ivan.petrov@example.com',
      vk_user: 'https://vk.com/id111111111',
    })
    expect(crm.requests[0]!.headers['authorization']).toBe('Bearer crm-token-0123456789')
  })

  it('facebook-leads-to-bizon365: a signed lead, read from the Graph API, registers the person', async () => {
    const pageToken = 'EAAExamplePageToken5Wq'
    const graph = await keep(startGraph(pageToken))
    const bizon = await keep(startBizon())
    const signed = fixture('facebook.leadgen-signed.json')
    const env = { FB_VERIFY_TOKEN: 'meatyhamhock', FB_APP_SECRET: signed['signature'].test_app_secret, FB_PAGE_TOKEN: pageToken, GRAPH_URL: graph.url, BIZON_TOKEN: BIZON.token, BIZON_BASE_URL: bizon.url }
    const hr = await keep(startExample('examples/facebook-leads-to-bizon365.yaml', env))
    const path = `/hooks/fb-leads/${EXAMPLE_KEY}`
    expect(await (await hr.call(`${path}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock`)).text()).toBe('1158201444')
    const res = await hr.call(path, { method: 'POST', headers: signed['request'].headers, body: signed['request'].body })
    expect(res.status).toBe(200)
    await expect.poll(() => bizon.requests.length).toBe(1)
    expect(params(bizon.requests[0]!)).toMatchObject({ email: 'ivan.petrov@example.com', username: 'Иван Петров', phone: '+79990000000', utm_source: 'facebook', utm_campaign: 'Лиды январь' })
  })

  it('vk-ads-leads-to-crm: asks VK Ads every interval and sends each lead to the CRM once', async () => {
    const token = 'VkAdsExampleToken7Lm'
    const api = await keep(startVkAds(token))
    const crm = await keep(startStub())
    await keep(startExample('examples/vk-ads-leads-to-crm.yaml', { VK_ADS_TOKEN: token, VK_ADS_URL: api.url, POLL_INTERVAL: '1s', CRM_URL: `${crm.url}/leads` }))
    await expect.poll(() => api.requests.length, { timeout: 5000 }).toBeGreaterThan(0) // the first poll notes what is there
    api.leads.push(fixture('mytarget.lead.json')['response'].body.items[0])
    await expect.poll(() => crm.requests.length, { timeout: 5000 }).toBe(1)
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({ source: 'vk-ads:Запись на пробный урок', name: 'Иван Петров', phone: '+79990000000', email: 'ivan.petrov@example.com' })
  })

  it('platformalp: any request kept and sent on with all its fields, until the real names are known', async () => {
    const crm = await keep(startStub())
    const hr = await keep(startExample('examples/platformalp.yaml', { CRM_URL: `${crm.url}/leads` }))
    const res = await hr.call(`/hooks/platformalp-leads/${EXAMPLE_KEY}?name=%D0%90%D0%BD%D0%BD%D0%B0&phone=%2B79990000001&utm_source=lp`)
    expect([res.status, await res.text()]).toEqual([200, 'ok'])
    const sent = JSON.parse(crm.requests[0]!.body)
    expect(sent).toMatchObject({ source: 'platformalp', name: 'Анна', phone: '+79990000001', email: '' })
    expect(JSON.parse(sent.everything)).toEqual({ name: 'Анна', phone: '+79990000001', utm_source: 'lp' })
  })
})

describe('hookrelay urls for GetCourse sources', () => {
  it('prints the URL with every placeholder and the steps to paste it', async () => {
    const { code, stdout } = await run(['urls', '--config', 'examples/getcourse-order-to-bizon365.yaml'], { env: { HOOK_KEY: EXAMPLE_KEY } })
    expect(code).toBe(0)
    const [url, ...steps] = stdout.trim().split('\n')
    expect(url).toBe(`gc-order-to-bizon  https://hooks.myschool.ru/hooks/gc-order-to-bizon/${EXAMPLE_KEY}${placeholderQuery('getcourse.order')}`)
    for (const [name, placeholder] of GETCOURSE_FIELDS['getcourse.order']) expect(url).toContain(`${name}=${placeholder}`)
    expect(steps[0]).toContain('«Тип объекта»: «Заказы»')
    expect(steps[1]).toContain('«Вызвать URL»')
  })
})
