/**
 * Duplicate deliveries: `source.dedupe` gives each request a key; a request whose key was kept
 * within `dedupe_window` runs nothing, is kept as `duplicate` pointing at the first run, and
 * gets the first run's answer. Replays are never deduplicated.
 */
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay } from '../helpers/hookrelay.js'
import { run } from '../helpers/process.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

const config = (crm: string, extra = '') => `
pipelines:
  - id: orders
    source:
      type: http
      key: orders-key-0123456789
      dedupe: "{{ in.email }}/{{ in.order }}"
      response: { body: '{"crm":{{ steps.crm.json.n }}}' }
      ${extra}
    actions:
      - { id: crm, type: http.request, url: "${crm}/orders", body: { json: { email: "{{ in.email }}" } } }
`

describe('duplicate deliveries', () => {
  it('runs a key once: the repeat is kept as a duplicate of the first and gets its answer', async () => {
    const crm = await keep(startStub((_req, res, n) => json(res, 200, { n })))
    const hr = await keep(startHookrelay(config(crm.url)))
    const send = (body: unknown) => hr.call('/hooks/orders/orders-key-0123456789', postJson(body))
    const first = await send({ email: 'a@b.ru', order: '1' })
    const again = await send({ email: 'a@b.ru', order: '1', note: 'sent again' })
    const other = await send({ email: 'a@b.ru', order: '2' })
    expect([first.status, again.status, other.status]).toEqual([200, 200, 200])
    expect([await first.text(), await again.text(), await other.text()]).toEqual(['{"crm":1}', '{"crm":1}', '{"crm":2}'])
    expect(crm.requests).toHaveLength(2)

    const firstId = first.headers.get('x-hookrelay-run')
    const dup = await hr.journal(`/${again.headers.get('x-hookrelay-run')}`)
    expect(dup).toMatchObject({ status: 'duplicate', duplicate_of: firstId, steps: [], response: { status: 200, body: '{"crm":1}' } })
    expect(JSON.parse(dup.request.raw)).toEqual({ email: 'a@b.ru', order: '1', note: 'sent again' }) // the repeat is kept as it came
    expect((await hr.journal(`/${firstId}`)).duplicates).toEqual([dup.id])
    const { runs } = await hr.journal('?status=duplicate')
    expect(runs.map((r: { id: string }) => r.id)).toEqual([dup.id])
  })

  it('two deliveries at once run once; the second waits for the first answer', async () => {
    const crm = await keep(startStub(async (_req, res, n) => {
      await new Promise((r) => setTimeout(r, 200))
      json(res, 200, { n })
    }))
    const hr = await keep(startHookrelay(config(crm.url)))
    const send = () => hr.call('/hooks/orders/orders-key-0123456789', postJson({ email: 'a@b.ru', order: '7' }))
    const answers = await Promise.all([send(), send(), send()])
    expect(await Promise.all(answers.map((a) => a.text()))).toEqual(['{"crm":1}', '{"crm":1}', '{"crm":1}'])
    expect(crm.requests).toHaveLength(1)
    const { runs } = await hr.journal()
    expect(runs.map((r: { status: string }) => r.status).sort()).toEqual(['duplicate', 'duplicate', 'ok'])
  })

  it('forgets a key after dedupe_window, and never dedupes a replay', async () => {
    const crm = await keep(startStub((_req, res, n) => json(res, 200, { n })))
    const hr = await keep(startHookrelay(config(crm.url, 'dedupe_window: 1s')))
    const send = () => hr.call('/hooks/orders/orders-key-0123456789', postJson({ email: 'a@b.ru', order: '9' }))
    const first = await send()
    expect(await (await send()).text()).toBe('{"crm":1}')
    await new Promise((r) => setTimeout(r, 1100))
    expect(await (await send()).text()).toBe('{"crm":2}')

    const replayed = await run(['replay', first.headers.get('x-hookrelay-run')!, '--config', join(hr.dir, 'config.yaml')])
    expect(replayed.stdout).toMatch(/: ok\nanswer: 200 \{"crm":3\}/)
    expect(crm.requests).toHaveLength(3)
  })

  it('a key that cannot be made does not stop the run: it runs, unchecked, and says so', async () => {
    const crm = await keep(startStub((_req, res, n) => json(res, 200, { n })))
    const hr = await keep(startHookrelay(config(crm.url)))
    const res = await hr.call('/hooks/orders/orders-key-0123456789', postJson({ order: '1' }))
    expect(res.status).toBe(422) // the CRM call itself needs in.email
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.warnings).toEqual(["the dedupe key could not be made (missing name 'in.email' in the template at pipelines[0].source.dedupe): this request was not checked for duplicates"])
  })
})
