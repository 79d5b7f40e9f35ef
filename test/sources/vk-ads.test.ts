/**
 * The vk_ads.leads source: a poller against a stand-in of VK Ads' lead list (built from
 * test/fixtures/apis/mytarget.lead.json). One run per lead, a cursor in the journal, failures
 * kept and reported as digests.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startVkAds } from '../helpers/doubles.js'
import { startHookrelay } from '../helpers/hookrelay.js'
import { startSmtp } from '../helpers/smtp.js'
import { startStub } from '../helpers/stub.js'

const keep = closeAfterEach()
const TOKEN = 'Vk9adsOauthToken4Zq7'
const sample = (JSON.parse(readFileSync('test/fixtures/apis/mytarget.lead.json', 'utf8')) as Record<string, any>)['response'].body.items[0]
const lead = (id: number, at: string, name: string) => ({ ...sample, id, created_at: at, contact_info: { ...sample.contact_info, first_name: name } })

const config = (api: string, crm: string, extra = '', source = '') => `
pipelines:
  - id: ads
    source: { type: vk_ads.leads, token: "\${VK_ADS_TOKEN}", interval: 1s, base_url: "${api}"${source ? `, ${source}` : ''} }
    actions:
      - { id: crm, type: http.request, url: "${crm}/leads", body: { json: "{{ in }}" } }
${extra}`

describe('vk_ads.leads', () => {
  it('runs each new lead once, its contact info and answers in in.*; a restart neither loses nor repeats one', async () => {
    const api = await keep(startVkAds(TOKEN))
    const crm = await keep(startStub())
    api.leads.push(lead(987654300, '2025-12-31 09:00:00', 'Старый лид'))
    const hr = await startHookrelay(config(api.url, crm.url, '', 'dedupe_window: 2s'), { env: { VK_ADS_TOKEN: TOKEN } })
    // The first poll only takes note of the leads already there.
    await expect.poll(() => hr.logs.some((l) => l.includes('first poll: the events already there are noted')), { timeout: 5000 }).toBe(true)
    api.leads.push(lead(987654321, '2026-01-01 12:00:00', 'Иван'), lead(987654322, '2026-01-01 12:05:00', 'Ольга 🌸'))
    await expect.poll(() => crm.requests.length, { timeout: 5000 }).toBe(2)
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({
      id: '987654321',
      form_id: '123456',
      form_name: 'Запись на пробный урок',
      ad_plan_id: '1111111',
      ad_group_id: '2222222',
      banner_id: '3333333',
      created_at: '2026-01-01 12:00:00',
      first_name: 'Иван',
      last_name: 'Петров',
      email: 'ivan.petrov@example.com',
      phone: '+79990000000',
      city: 'Москва',
      'Какой курс вас интересует?': 'Английский для детей',
    })
    expect(JSON.parse(crm.requests[1]!.body).first_name).toBe('Ольга 🌸')
    // More polls, past the dedupe window: the leads near the cursor are asked for again and skipped, no run at all.
    await new Promise((r) => setTimeout(r, 3500))
    expect(crm.requests).toHaveLength(2)
    expect((await hr.journal()).runs.map((r: { status: string }) => r.status)).toEqual(['ok', 'ok'])
    await hr.stop()

    api.leads.push(lead(987654323, '2026-01-01 12:10:00', 'Анна'))
    const before = api.requests.length
    const again = await keep(startHookrelay(config(api.url, crm.url), { env: { VK_ADS_TOKEN: TOKEN }, dir: hr.dir }))
    await expect.poll(() => crm.requests.length, { timeout: 5000 }).toBe(3)
    expect(JSON.parse(crm.requests[2]!.body).first_name).toBe('Анна')
    // Asked from where it got to before the restart (the cursor in the journal), ten minutes back.
    expect(api.requests[before]!.query.get('_created_at__gte')).toBe('2026-01-01 11:55:00')
    const { runs } = await again.journal('?status=ok')
    expect(runs).toHaveLength(3)
    expect(JSON.stringify(await again.journal(`/${runs[0].id}`))).not.toContain(TOKEN)
  })

  it('an API that fails: failed runs, a digest letter, longer and longer waits; no URL to call', async () => {
    const api = await keep(startVkAds(TOKEN))
    const crm = await keep(startStub())
    const mailbox = await keep(startSmtp())
    api.failWith = 500
    const hr = await keep(
      startHookrelay(config(api.url, crm.url, `notify:\n  email: { smtp: "\${SMTP_URL}", from: hookrelay@school.example, to: [ops@school.example], min_interval: 1h }\n`), {
        env: { VK_ADS_TOKEN: TOKEN, SMTP_URL: mailbox.url },
      }),
    )
    await expect.poll(async () => (await hr.journal('?status=failed')).runs.length, { timeout: 8000 }).toBeGreaterThanOrEqual(2)
    const { runs } = await hr.journal('?status=failed')
    const failed = await hr.journal(`/${runs[0].id}`)
    expect(failed.error).toBe('VK Ads answered 500: {"error":{"code":"internal","message":"Сервис временно недоступен"}}')
    expect(failed.request).toMatchObject({ method: 'GET', path: '/api/v1/lead_ads/leads.json', query: { limit: '50', offset: '0', sorting: 'created_at' } })
    await mailbox.waitFor(1, 5000)
    await new Promise((r) => setTimeout(r, 1000))
    expect(mailbox.letters).toHaveLength(1) // the first at once; the rest wait for min_interval, as one digest
    // Waits grow: 1s, 2s, 4s ... so 8 seconds hold about four polls, not eight.
    expect(api.requests.length).toBeLessThanOrEqual(5)
    expect((await hr.call('/hooks/ads')).status).toBe(404)
  })
})
