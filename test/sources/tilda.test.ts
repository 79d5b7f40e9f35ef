/** The tilda source, driven with the requests Tilda sends (test/fixtures/apis/tilda.*.json). */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startHookrelay } from '../helpers/hookrelay.js'
import { run } from '../helpers/process.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()
const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/apis/${name}`, 'utf8')) as Record<string, any>
const URL_PATH = '/hooks/tilda/tilda-key-0123456789'

async function start(crmHandler?: Parameters<typeof startStub>[0]) {
  const crm = await keep(startStub(crmHandler))
  const hr = await keep(
    startHookrelay(`
pipelines:
  - id: tilda
    source: { type: tilda, key: tilda-key-0123456789 }
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/leads", body: { json: "{{ in }}" } }
`),
  )
  return { hr, crm }
}

const form = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })

describe('tilda', () => {
  it('answers the connection check test=test with 200 ok (also with cookies), keeps it as skipped, runs nothing', async () => {
    const { hr, crm } = await start()
    const withCookies = await hr.call(URL_PATH, form('test=test&COOKIES=tildauid%3D1'))
    expect(await withCookies.text()).toBe('ok')
    const res = await hr.call(URL_PATH, form(fixture('tilda.test-request.json')['body']))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(await res.text()).toBe('ok')
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run).toMatchObject({ status: 'skipped', error: null, warnings: ['Tilda connection check (test=test): answered ok, nothing run'], steps: [] })
    expect(crm.requests).toHaveLength(0)
  })

  it('a form: the fields as sent, answered ok as soon as it is kept (Tilda waits 5 s at most)', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const { hr, crm } = await start(async (_req, res) => {
      await held
      json(res, 200, { ok: true })
    })
    const res = await hr.call(URL_PATH, form(fixture('tilda.form-submit.json')['body']))
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('ok') // while the CRM still holds its answer
    release()
    await expect.poll(async () => (await hr.journal()).runs[0].status).toBe('ok')
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({
      Name: 'Иван',
      Email: 'ivan.petrov@example.com',
      Phone: '+7 (999) 000-00-00',
      tranid: '1234567:8901234',
      formid: 'form123456789',
    })
  })

  it('a cart as payment[...] keys and as a payment JSON string, and a JSON body: the same in.payment', async () => {
    const { hr, crm } = await start()
    const [brackets, jsonString] = fixture('tilda.form-cart.json')['cases'] as Array<{ request: { body: string } }>
    for (const c of [brackets!, jsonString!]) expect((await hr.call(URL_PATH, form(c.request.body))).status).toBe(200)
    const unverified = fixture('tilda.form-json.UNVERIFIED.json')['request']
    expect((await hr.call(URL_PATH, { method: 'POST', headers: unverified.headers, body: unverified.body })).status).toBe(200)
    await expect.poll(() => crm.requests.length).toBe(3)

    const [a, b, c] = crm.requests.map((r) => JSON.parse(r.body))
    expect(a.payment).toEqual({
      sys: 'none',
      systranid: '0',
      orderid: '1557604691',
      products: [
        { name: 'Курс «Английский для детей»', quantity: '1', amount: '4990', price: '4990' },
        { name: 'Пробный урок', quantity: '1', amount: '0', price: '0', options: [{ option: 'Формат', variant: 'Онлайн', price: '0' }] },
      ],
      amount: '4990',
    })
    expect(Object.keys(a).filter((k) => k.startsWith('payment['))).toEqual([])
    expect(a).toMatchObject({ Name: 'Иван Петров', formid: 'form42581206', formname: 'Cart' })
    expect(b.payment).toEqual({ sys: 'none', systranid: '0', orderid: '1132944846', products: ['Курс «Английский для детей» (Формат: Онлайн)=4990'], amount: '4990' })
    expect(b.COOKIES).toContain('tildauid=') // sent on to the CRM as it came
    expect(c).toEqual({ Name: 'Иван Петров', Phone: '+7 (999) 000-00-00', Email: 'ivan.petrov@example.com', tranid: '1234567:8901234', formid: 'form123456789', formname: 'Заявка на пробный урок' })
    // Cookies are credentials: the journal shows them masked.
    const { runs } = await hr.journal()
    const withCookies = await hr.journal(`/${runs[1].id}`)
    expect(withCookies.request.body.COOKIES).toBe('***')
  })

  it("a repeat of a submission (same tranid, as Tilda's retries) runs once; a payment name that reaches a prototype is left out", async () => {
    const { hr, crm } = await start()
    const body = fixture('tilda.form-submit.json')['body'] as string
    const answers = [await hr.call(URL_PATH, form(body)), await hr.call(URL_PATH, form(body))]
    expect(await Promise.all(answers.map((a) => a.text()))).toEqual(['ok', 'ok'])
    const second = await hr.journal(`/${answers[1]!.headers.get('x-hookrelay-run')}`)
    expect(second).toMatchObject({ status: 'duplicate', duplicate_of: answers[0]!.headers.get('x-hookrelay-run') })

    const hostile = await hr.call(URL_PATH, form('Name=x&payment%5B__proto__%5D%5Bpolluted%5D=1&payment%5Bproducts%5D%5B__proto__%5D%5Bx%5D=1&tranid=2'))
    expect(hostile.status).toBe(200)
    await expect.poll(() => crm.requests.length).toBe(2)
    expect(JSON.parse(crm.requests[1]!.body)).toEqual({ Name: 'x', tranid: '2', payment: {} })
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(([] as unknown as Record<string, unknown>)['x']).toBeUndefined()

    // An index no cart has, or `length`, stays a key: no huge list, no error.
    const huge = await hr.call(URL_PATH, form('Name=y&payment%5Bproducts%5D%5B0%5D%5Bname%5D=x&payment%5Bproducts%5D%5B50000000%5D=y&payment%5Bitems%5D%5Blength%5D=abc&tranid=3'))
    expect([huge.status, await huge.text()]).toEqual([200, 'ok'])
    await expect.poll(() => crm.requests.length).toBe(3)
    expect(JSON.parse(crm.requests[2]!.body).payment).toEqual({ products: { '0': { name: 'x' }, '50000000': 'y' }, items: { length: 'abc' } })
  })
})

describe('replaying what a sender sent', () => {
  it("refuses to replay a sender's connection check; replays a lead", async () => {
    const { hr, crm } = await start()
    const check = await hr.call(URL_PATH, form('test=test'))
    const lead = await hr.call(URL_PATH, form(fixture('tilda.form-submit.json')['body']))
    await expect.poll(() => crm.requests.length).toBe(1)
    const refused = await run(['replay', check.headers.get('x-hookrelay-run')!, '--config', join(hr.dir, 'config.yaml')])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("was a sender's check (Tilda connection check (test=test): answered ok, nothing run): there is nothing to run")
    const replayed = await run(['replay', lead.headers.get('x-hookrelay-run')!, '--config', join(hr.dir, 'config.yaml')])
    expect(replayed.code).toBe(0)
    expect(crm.requests).toHaveLength(2) // a replay is never a duplicate
  })
})
