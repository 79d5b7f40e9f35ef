/**
 * The facebook.leads source against a stand-in of the Graph API (test/helpers/doubles.ts), with
 * the requests Meta sends (test/fixtures/apis/facebook.*.json), signed as Meta signs them.
 */
import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectNoFragments } from '../helpers/canary.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startGraph } from '../helpers/doubles.js'
import { startHookrelay } from '../helpers/hookrelay.js'
import { run } from '../helpers/process.js'
import { startStub } from '../helpers/stub.js'

const keep = closeAfterEach()
const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/apis/${name}`, 'utf8')) as Record<string, any>
const URL_PATH = '/hooks/fb/fb-key-0123456789'
const SIGNED = fixture('facebook.leadgen-signed.json')
const APP_SECRET = SIGNED['signature'].test_app_secret as string
const VERIFY_TOKEN = fixture('facebook.verify.json')['config'].verify_token as string
const PAGE_TOKEN = 'EAAPageToken0Zx9Longlived7Qw'

async function start() {
  const graph = await keep(startGraph(PAGE_TOKEN))
  const crm = await keep(startStub())
  const hr = await keep(
    startHookrelay(
      `
pipelines:
  - id: fb
    source:
      type: facebook.leads
      key: fb-key-0123456789
      verify_token: "\${FB_VERIFY_TOKEN}"
      app_secret: "\${FB_APP_SECRET}"
      page_token: "\${FB_PAGE_TOKEN}"
      graph_url: "${graph.url}"
      retries: 2
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/leads", body: { json: "{{ in }}" } }
`,
      { env: { FB_VERIFY_TOKEN: VERIFY_TOKEN, FB_APP_SECRET: APP_SECRET, FB_PAGE_TOKEN: PAGE_TOKEN } },
    ),
  )
  return { hr, crm, graph }
}

const sign = (body: string, secret = APP_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
const post = (body: string, signature: string | undefined = sign(body)): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}) },
  body,
})
const delivery = (changes: Array<Record<string, unknown>>) =>
  JSON.stringify({ object: 'page', entry: [{ id: '153125381133', time: 1767261600, changes: changes.map((value) => ({ value, field: 'leadgen' })) }] })

describe('facebook.leads: the handshake and the signature', () => {
  it('answers the verification GET with the challenge; a wrong token or mode gets 403', async () => {
    const { hr } = await start()
    const [valid, wrong, unsubscribe] = fixture('facebook.verify.json')['cases'] as Array<{ request: { path_and_query: string } }>
    const at = (c: { request: { path_and_query: string } }) => c.request.path_and_query.replace('/hooks/fb-leads', URL_PATH)
    const ok = await hr.call(at(valid!))
    expect([ok.status, ok.headers.get('content-type'), await ok.text()]).toEqual([200, 'text/plain; charset=utf-8', '1158201444'])
    expect((await hr.journal(`/${ok.headers.get('x-hookrelay-run')}`)).status).toBe('skipped')
    for (const c of [wrong!, unsubscribe!]) {
      const res = await hr.call(at(c))
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ code: 'HR_WRONG_VERIFY_TOKEN' })
    }
  })

  it("checks X-Hub-Signature-256 over the exact bytes: Meta's signed fixture passes; tampered, missing or re-serialised does not", async () => {
    const { hr, crm } = await start()
    const { body, headers } = SIGNED['request']
    const ok = await hr.call(URL_PATH, { method: 'POST', headers, body })
    expect(ok.status).toBe(200)
    const tampered = (SIGNED['negative_cases'] as Array<{ request: { headers: Record<string, string>; body: string } }>).map((c) => c.request)
    const reserialised = JSON.stringify(JSON.parse(body), null, 1) // the same JSON, other bytes
    for (const init of [...tampered.map((r) => ({ method: 'POST', headers: r.headers, body: r.body })), post(reserialised, headers['X-Hub-Signature-256'])]) {
      const res = await hr.call(URL_PATH, init)
      expect(res.status).toBe(401)
      const answer = (await res.json()) as { run_id: string }
      expect(answer).toMatchObject({ code: 'HR_BAD_SIGNATURE' })
      expect((await hr.journal(`/${answer.run_id}`)).status).toBe('rejected')
    }
    await expect.poll(() => crm.requests.length).toBe(1) // only the signed one ran
  })
})

describe('facebook.leads: reading the lead', () => {
  it('a lead: 200 at once, the Graph read as the first step (token masked), in.* with the names and answers', async () => {
    const { hr, crm, graph } = await start()
    const { body, headers } = SIGNED['request']
    const res = await hr.call(URL_PATH, { method: 'POST', headers, body })
    expect(res.status).toBe(200)
    await expect.poll(() => crm.requests.length).toBe(1)
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({
      id: '1234567890123456',
      leadgen_id: '1234567890123456',
      created_time: '2026-01-01T09:59:59+0000',
      page_id: '153125381133',
      form_id: '551111744595541',
      ad_id: '120210000000000001',
      adgroup_id: '120210000000000001',
      ad_name: 'Пробный урок — видео 1',
      adset_id: '120210000000000002',
      adset_name: 'Мамы 25-45, Москва',
      campaign_id: '120210000000000003',
      campaign_name: 'Лиды январь',
      form_name: 'Запись на пробный урок',
      page_name: 'Онлайн-школа «Пример»',
      full_name: 'Иван Петров',
      phone_number: '+79990000000',
      email: 'ivan.petrov@example.com',
    })
    expect(graph.requests.map((r) => r.path)).toEqual(['/v25.0/1234567890123456', '/v25.0/551111744595541', '/v25.0/153125381133'])
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.steps.map((s: { id: string; type: string; status: string }) => [s.id, s.type, s.status])).toEqual([
      ['facebook', 'facebook.lead', 'ok'],
      ['crm', 'http.request', 'ok'],
    ])
    expect(run.steps[0].request.url).toContain('access_token=***')
    expectNoFragments({ journal: JSON.stringify(run), logs: hr.logs.join('\n') }, { PAGE_TOKEN })
    expect(JSON.stringify(run) + hr.logs.join('\n')).not.toContain(APP_SECRET) // the fixture's secret has 'hookrelay' in it: whole only
  })

  it('a batch of changes: one run each; a change without a lead id is rejected, the others run; a redelivery runs nothing', async () => {
    const { hr, crm, graph } = await start()
    const lead = fixture('facebook.graph-lead.json')['lead'].response.body
    graph.leads.set('1234567890123457', { ...lead, id: '1234567890123457', field_data: [{ name: 'full_name', values: ['Олег 🚀 Смирнов'] }] })
    const body = delivery([
      { leadgen_id: '1234567890123456', form_id: '551111744595541', page_id: '153125381133', created_time: 1767261599 },
      { form_id: '551111744595541', page_id: '153125381133' },
      { leadgen_id: 1234567890123457, form_id: 551111744595541, page_id: 153125381133, created_time: 1767261600 },
    ])
    const res = await hr.call(URL_PATH, post(body))
    expect(res.status).toBe(200)
    await expect.poll(() => crm.requests.length).toBe(2)
    expect(crm.requests.map((r) => JSON.parse(r.body).full_name).sort()).toEqual(['Иван Петров', 'Олег 🚀 Смирнов'])
    // The 17-digit number id arrived whole (a JavaScript number would end in ...456).
    expect(graph.requests.map((r) => r.path)).toContain('/v25.0/1234567890123457')
    const { runs } = await hr.journal()
    expect(runs.map((r: { status: string }) => r.status).sort()).toEqual(['ok', 'ok', 'rejected'])
    const rejected = runs.find((r: { status: string }) => r.status === 'rejected')
    expect(rejected.error).toBe('this leadgen change cannot be read: it has no leadgen_id')
    // The names were read once, then remembered.
    expect(graph.requests.filter((r) => r.path === '/v25.0/551111744595541')).toHaveLength(1)

    const again = await hr.call(URL_PATH, post(body))
    expect(again.status).toBe(200)
    const after = (await hr.journal()).runs.map((r: { status: string }) => r.status)
    expect(after.filter((s: string) => s === 'duplicate')).toHaveLength(2)
    expect(crm.requests).toHaveLength(2)
  })

  it('Graph answers 500, or 400 with a temporary code, then 200: retried; a Graph error fails the step with its message, code and fbtrace_id', async () => {
    const { hr, crm, graph } = await start()
    graph.failNext = 1
    graph.temporaryNext = 1
    const first = await hr.call(URL_PATH, post(delivery([{ leadgen_id: '1234567890123456', form_id: '551111744595541', page_id: '153125381133' }])))
    expect(first.status).toBe(200)
    await expect.poll(() => crm.requests.length).toBe(1)
    const run = await hr.journal(`/${first.headers.get('x-hookrelay-run')}`)
    expect(run.status).toBe('ok')

    const missing = await hr.call(URL_PATH, post(delivery([{ leadgen_id: '999', form_id: '551111744595541', page_id: '153125381133' }])))
    expect(missing.status).toBe(200) // Facebook is answered once the lead is kept; the failure is the operator's to see
    await expect.poll(async () => (await hr.journal(`/${missing.headers.get('x-hookrelay-run')}`)).status).toBe('failed')
    const failed = await hr.journal(`/${missing.headers.get('x-hookrelay-run')}`)
    expect(failed.steps[0].error).toBe("Graph API answered 400: Unsupported get request. Object with ID '999' does not exist (code 100, subcode 33, fbtrace_id Amissing)")
    expect(crm.requests).toHaveLength(1)
  })

  it("a page name it may not read leaves page_name empty, with a warning: the lead still runs", async () => {
    const { hr, crm, graph } = await start()
    graph.forbidden.add('153125381133')
    const res = await hr.call(URL_PATH, post(delivery([{ leadgen_id: '1234567890123456', form_id: '551111744595541', page_id: '153125381133' }])))
    expect(res.status).toBe(200)
    await expect.poll(() => crm.requests.length).toBe(1)
    expect(JSON.parse(crm.requests[0]!.body)).toMatchObject({ form_name: 'Запись на пробный урок', page_name: '', full_name: 'Иван Петров' })
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.steps[0].output.warnings).toEqual(["the page's name could not be read: Graph API answered 400: (#10) Requires pages_read_engagement permission (code 10, fbtrace_id Aperm)"])
  })

  it('each run of a batch keeps only its own change, and replays that one', async () => {
    const { hr, crm } = await start()
    const body = delivery([
      { leadgen_id: '1234567890123456', form_id: '551111744595541', page_id: '153125381133' },
      { leadgen_id: '999', form_id: '551111744595541', page_id: '153125381133' },
    ])
    expect((await hr.call(URL_PATH, post(body))).status).toBe(200)
    await expect.poll(async () => (await hr.journal()).runs.filter((r: { status: string }) => r.status !== 'running').length).toBe(2)
    const { runs } = await hr.journal()
    const details = await Promise.all(runs.map((r: { id: string }) => hr.journal(`/${r.id}`)))
    for (const d of details) {
      const kept = JSON.parse(d.request.raw)
      expect(kept.entry[0].changes).toHaveLength(1)
      expect(d.request.delivery).toMatchObject({ of: 2 })
    }
    const ok = details.find((d: { status: string }) => d.status === 'ok')
    const replayed = await run(['replay', ok.id, '--config', join(hr.dir, 'config.yaml')], { env: { FB_VERIFY_TOKEN: VERIFY_TOKEN, FB_APP_SECRET: APP_SECRET, FB_PAGE_TOKEN: PAGE_TOKEN } })
    expect(replayed.stdout).toMatch(/: ok\n/)
    expect(crm.requests.map((r) => JSON.parse(r.body).id)).toEqual(['1234567890123456', '1234567890123456'])
  })
})
