/** The vk source, driven with the requests VK's Callback API sends (test/fixtures/apis/vk.*.json). */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startHookrelay } from '../helpers/hookrelay.js'
import { startStub } from '../helpers/stub.js'

const keep = closeAfterEach()
const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/apis/${name}`, 'utf8')) as Record<string, any>
const URL_PATH = '/hooks/vk/vk-key-0123456789'
const { confirmation_code: CODE, secret: SECRET } = fixture('vk.confirmation.json')['config']

async function start() {
  const crm = await keep(startStub())
  const hr = await keep(
    startHookrelay(
      `
pipelines:
  - id: vk
    source: { type: vk, key: vk-key-0123456789, confirmation: "\${VK_CONFIRMATION}", secret: "\${VK_SECRET}" }
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/leads", body: { json: "{{ in }}" } }
`,
      { env: { VK_CONFIRMATION: CODE, VK_SECRET: SECRET } },
    ),
  )
  return { hr, crm }
}

const send = (hr: { call: (p: string, i?: RequestInit) => Promise<Response> }, request: { headers: Record<string, string>; body: string }) =>
  hr.call(URL_PATH, { method: 'POST', headers: request.headers, body: request.body })

describe('vk', () => {
  it('answers the confirmation with the code as plain text, with or without the secret in it; kept as skipped', async () => {
    const { hr, crm } = await start()
    for (const c of fixture('vk.confirmation.json')['cases'] as Array<{ request: { headers: Record<string, string>; body: string } }>) {
      const res = await send(hr, c.request)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      expect(await res.text()).toBe(CODE) // from ${VK_CONFIRMATION}, sent as written
      const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
      expect(run).toMatchObject({ status: 'skipped', warnings: ['VK confirmation request: answered the confirmation code'] })
      expect(run.response.body).toBe('***') // the journal keeps the config's value masked
    }
    expect(crm.requests).toHaveLength(0)
  })

  it('a new lead: ok as soon as it is kept, its answers flattened into in.* by their keys; a retry of the event runs nothing', async () => {
    const { hr, crm } = await start()
    const [lead, retry] = fixture('vk.lead_forms_new.json')['cases'] as Array<{ request: { headers: Record<string, string>; body: string } }>
    const first = await send(hr, lead!.request)
    expect([first.status, first.headers.get('content-type'), await first.text()]).toEqual([200, 'text/plain; charset=utf-8', 'ok'])
    await expect.poll(() => crm.requests.length).toBe(1)
    const { _note, ...expected } = fixture('vk.lead_forms_new.json')['expected_in']
    void _note
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({ ...expected, type: 'lead_forms_new', event_id: '3f0c6c2b1a9e4d7f8b2a5c1e0d9f8a7b6c5d4e3f' })

    const again = await send(hr, retry!.request)
    expect(await again.text()).toBe('ok')
    const dup = await hr.journal(`/${again.headers.get('x-hookrelay-run')}`)
    expect(dup).toMatchObject({ status: 'duplicate', duplicate_of: first.headers.get('x-hookrelay-run') })
    expect(crm.requests).toHaveLength(1)
  })

  it('a wrong or missing secret: 403, kept as rejected, nothing run', async () => {
    const { hr, crm } = await start()
    const wrong = (fixture('vk.lead_forms_new.json')['cases'] as Array<{ request: { headers: Record<string, string>; body: string } }>)[2]!
    const missing = { ...wrong.request, body: JSON.stringify({ ...JSON.parse(wrong.request.body), secret: undefined }) }
    const forged = { ...wrong.request, body: JSON.stringify({ type: 'confirmation', group_id: 1, secret: 'WRONG' }) }
    for (const request of [wrong.request, missing, forged]) {
      const res = await send(hr, request)
      expect(res.status).toBe(403)
      const body = (await res.json()) as { run_id: string }
      expect(body).toMatchObject({ code: 'HR_WRONG_SECRET' })
      expect((await hr.journal(`/${body.run_id}`)).status).toBe('rejected')
    }
    expect(crm.requests).toHaveLength(0)
  })

  it('any other event is answered ok too, its object in in.*', async () => {
    const { hr, crm } = await start()
    const event = { type: 'message_new', object: { message: { text: 'Привет 👋', from_id: 42 } }, group_id: 186648891, event_id: 'e-1', v: '5.199', secret: SECRET }
    const res = await send(hr, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) })
    expect(await res.text()).toBe('ok')
    await expect.poll(() => crm.requests.length).toBe(1)
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({ type: 'message_new', event_id: 'e-1', group_id: '186648891', message: { text: 'Привет 👋', from_id: 42 } })
  })
})
