/**
 * Lead-form senders with Cyrillic and emoji in every field (names too), through each preset:
 * what arrives in in.* is what was sent, byte for byte, in the CRM and in the journal.
 */
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startGraph, startVkAds } from '../helpers/doubles.js'
import { startHookrelay } from '../helpers/hookrelay.js'
import { startStub } from '../helpers/stub.js'

const keep = closeAfterEach()
const W = 'Ёжик 🦔 «тест» — ok 👍🏽'

describe('every field in Cyrillic and emoji', () => {
  it('reaches the CRM intact through tilda, vk, facebook.leads and vk_ads.leads', async () => {
    const crm = await keep(startStub())
    const graph = await keep(startGraph('EAAPageTokenEmoji9Qz'))
    graph.leads.set('777', { id: '777', created_time: '2026-01-01T09:59:59+0000', form_id: '551111744595541', campaign_name: W, field_data: [{ name: `вопрос ${W}`, values: [W, W] }] })
    const ads = await keep(startVkAds('VkAdsEmojiToken8Rm'))
    const actions = `
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/leads", body: { json: "{{ in }}" } }`
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: tilda
    source: { type: tilda, key: tilda-key-0123456789 }${actions}
  - id: vk
    source: { type: vk, key: vk-key-0123456789, confirmation: code12345 }${actions}
  - id: fb
    source: { type: facebook.leads, key: fb-key-0123456789, verify_token: vt-0123456789, app_secret: "\${APP_SECRET}", page_token: "\${PAGE_TOKEN}", graph_url: "${graph.url}" }${actions}
  - id: ads
    source: { type: vk_ads.leads, token: "\${ADS_TOKEN}", interval: 1s, base_url: "${ads.url}" }${actions}
`,
        { env: { APP_SECRET: 'app-secret-emoji-01', PAGE_TOKEN: 'EAAPageTokenEmoji9Qz', ADS_TOKEN: 'VkAdsEmojiToken8Rm' } },
      ),
    )
    await expect.poll(() => ads.requests.length, { timeout: 5000 }).toBeGreaterThan(0) // the poller's first look
    ads.leads.push({ id: 5, form_name: W, created_at: '2026-01-01 12:00:00', contact_info: { first_name: W }, answers: [{ question_text: `Вопрос ${W}`, answer_options: [{ text: W }], answer_text: null }] })
    const form = new URLSearchParams({ [`Имя ${W}`]: W, formname: W, tranid: '1:2' }).toString()
    expect((await hr.call('/hooks/tilda/tilda-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form })).status).toBe(200)
    const vk = JSON.stringify({ type: 'lead_forms_new', event_id: 'e1', group_id: 1, object: { lead_id: 1, form_name: W, answers: [{ key: 'custom_0', question: W, answer: W }] } })
    expect((await hr.call('/hooks/vk/vk-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/json' }, body: vk })).status).toBe(200)
    const fb = JSON.stringify({ object: 'page', entry: [{ id: '153125381133', changes: [{ field: 'leadgen', value: { leadgen_id: '777', form_id: '551111744595541', page_id: '153125381133' } }] }] })
    const signature = `sha256=${createHmac('sha256', 'app-secret-emoji-01').update(fb).digest('hex')}`
    expect((await hr.call('/hooks/fb/fb-key-0123456789', { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body: fb })).status).toBe(200)
    await expect.poll(() => crm.requests.length, { timeout: 5000 }).toBe(4)

    const byPath = crm.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>)
    const tilda = byPath.find((b) => b['tranid'] === '1:2')!
    expect(tilda).toEqual({ [`Имя ${W}`]: W, formname: W, tranid: '1:2' })
    const vkIn = byPath.find((b) => b['event_id'] === 'e1')!
    expect(vkIn).toMatchObject({ form_name: W, custom_0: W })
    const fbIn = byPath.find((b) => b['leadgen_id'] === '777')!
    expect(fbIn).toMatchObject({ campaign_name: W, [`вопрос ${W}`]: `${W}, ${W}`, form_name: 'Запись на пробный урок' })
    const adsIn = byPath.find((b) => b['id'] === '5')!
    expect(adsIn).toEqual({ id: '5', form_name: W, created_at: '2026-01-01 12:00:00', first_name: W, [`Вопрос ${W}`]: W })
    const { runs } = await hr.journal('?limit=10')
    const details = JSON.stringify(await Promise.all(runs.map((r: { id: string }) => hr.journal(`/${r.id}`))))
    expect(details.split(W).length - 1).toBeGreaterThanOrEqual(8) // shown in the journal as sent
  })
})
