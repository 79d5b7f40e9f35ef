/** The journal API: bearer auth, filters, newest-first cursor pagination, run details. */
import { afterEach, describe, expect, it } from 'vitest'
import { postJson, startHookrelay, TOKEN, type TestService } from '../helpers/hookrelay.js'

let hr: TestService | undefined
afterEach(async () => {
  await hr?.close()
  hr = undefined
})

const CONFIG = `
pipelines:
  - id: alpha
    source: { type: http, key: alpha-key-0123456789 }
    actions: []
  - id: beta
    source: { type: http, key: beta-key-0123456789, methods: [POST] }
    actions: []
`

describe('authentication', () => {
  it.each([
    ['no header', undefined],
    ['a wrong token', `Bearer ${TOKEN.replace('0', 'x')}`],
    ['a shorter token', 'Bearer short'],
    ['a much longer token', `Bearer ${TOKEN.repeat(50)}`],
    ['another scheme', `Basic ${TOKEN}`],
  ])('refuses %s with 401', async (_name, authorization) => {
    hr = await startHookrelay(CONFIG)
    for (const path of ['/journal', '/journal/some-id']) {
      const res = await hr.call(path, { headers: authorization ? { authorization } : {} })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="hookrelay journal"')
      expect(await res.json()).toEqual({ error: 'missing or wrong bearer token', code: 'HR_UNAUTHORIZED' })
    }
  })

  it('is off without a token', async () => {
    hr = await startHookrelay(CONFIG, { token: null })
    const res = await hr.call('/journal', { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: 'the journal API is off: set journal.token in the config', code: 'HR_JOURNAL_DISABLED' })
  })
})

describe('search and time filters', () => {
  const SEARCH = `
pipelines:
  - id: leads
    source: { type: http, key: leads-key-0123456789 }
    actions: []
`
  const post = (service: TestService, body: string, type: string) =>
    service.call('/hooks/leads/leads-key-0123456789', { method: 'POST', headers: { 'content-type': type }, body })
  const ids = (page: { runs: Array<{ id: string }> }) => page.runs.map((r) => r.id)
  /** The run ids of every page of `query`, following `next` (at most 10 pages). */
  async function everyPage(service: TestService, query: string): Promise<string[]> {
    const seen: string[] = []
    let cursor = ''
    for (let pages = 0; pages < 10; pages++) {
      const page = await service.journal(`${query}${cursor}`)
      seen.push(...ids(page))
      if (!page.next) break
      cursor = `&before=${page.next}`
    }
    return seen
  }

  it('finds runs by a part of an email, a phone or a name, however the sender encoded it', async () => {
    hr = await startHookrelay(SEARCH)
    const form = await post(hr, 'name=%D0%98%D0%B2%D0%B0%D0%BD&email=ivan.petrov%40mail.ru&phone=%2B79161234567', 'application/x-www-form-urlencoded')
    const json = await post(hr, JSON.stringify({ user: { email: 'olga@example.com', name: 'Ольга' }, order: { number: 'GC-48151' } }), 'application/json')
    const escaped = await post(hr, '{"name":"\\u041f\\u0451\\u0442\\u0440","phone":"+7 999 000-11-22"}', 'application/json')
    const [formId, jsonId, escapedId] = [form, json, escaped].map((r) => r.headers.get('x-hookrelay-run'))

    expect(ids(await hr.journal('?q=ivan.petrov@mail.ru'))).toEqual([formId])
    expect(ids(await hr.journal('?q=IVAN.PETROV'))).toEqual([formId]) // case does not matter
    expect(ids(await hr.journal('?q=9161234'))).toEqual([formId])
    expect(ids(await hr.journal(`?q=${encodeURIComponent('иван')}`))).toEqual([formId])
    expect(ids(await hr.journal('?q=GC-48151'))).toEqual([jsonId])
    expect(ids(await hr.journal(`?q=${encodeURIComponent('Пётр')}`))).toEqual([escapedId])
    expect(ids(await hr.journal('?q=000-11'))).toEqual([escapedId])
    expect(ids(await hr.journal('?q=example.com&status=ok&pipeline=leads'))).toEqual([jsonId])
    expect(ids(await hr.journal('?q=nobody@nowhere'))).toEqual([])
  })

  it('never finds a run by a secret it holds, so a search cannot guess one piece by piece', async () => {
    hr = await startHookrelay(SEARCH)
    const res = await post(hr, JSON.stringify({ email: 'anna@example.com', api_token: 'tok-9f8e7d6c5b4a3210', password: 'hunter2hunter2' }), 'application/json')
    const id = res.headers.get('x-hookrelay-run')
    expect(ids(await hr.journal('?q=anna@example'))).toEqual([id])
    for (const piece of ['tok-9f8e7d', '9f8e7d6c5b4a3210', 'hunter2', 'd6c5']) expect(ids(await hr.journal(`?q=${piece}`))).toEqual([])
  })

  it('pages through many hits with a cursor, newest first', async () => {
    hr = await startHookrelay(SEARCH)
    const sent: string[] = []
    for (let i = 0; i < 7; i++) sent.push((await post(hr, JSON.stringify({ email: `user${i}@school.ru` }), 'application/json')).headers.get('x-hookrelay-run')!)
    await post(hr, JSON.stringify({ email: 'other@elsewhere.org' }), 'application/json')
    expect(await everyPage(hr, '?q=school.ru&limit=3')).toEqual([...sent].reverse())
  })

  it('finds runs the index has caught up with and runs it has not yet, in one order', async () => {
    hr = await startHookrelay(SEARCH)
    const service = hr
    const send = async (i: number) => (await post(service, JSON.stringify({ email: `pupil${i}@lyceum.ru` }), 'application/json')).headers.get('x-hookrelay-run')!
    const sent: string[] = []
    for (let i = 0; i < 7; i++) sent.push(await send(i))
    // The writer thread indexes once it has had nothing to do for a moment.
    const indexedUpTo = () => service.service.db.prepare('SELECT (SELECT last_rowid FROM search_state) = (SELECT max(rowid) FROM runs)').pluck().get()
    await expect.poll(indexedUpTo, { timeout: 5000 }).toBe(1)
    for (let i = 7; i < 10; i++) sent.push(await send(i)) // just kept: not indexed yet, or only just
    expect(await everyPage(service, '?q=lyceum.ru&limit=4')).toEqual([...sent].reverse())
    await expect.poll(indexedUpTo, { timeout: 5000 }).toBe(1)
    expect(ids(await service.journal('?q=pupil9@'))).toEqual([sent[9]])
  })

  it('since and until keep to a time range (until excluded), in any zone', async () => {
    hr = await startHookrelay(SEARCH)
    const first = (await post(hr, '{"n":1}', 'application/json')).headers.get('x-hookrelay-run')
    await new Promise((r) => setTimeout(r, 30))
    const middle = new Date()
    await new Promise((r) => setTimeout(r, 30))
    const second = (await post(hr, '{"n":2}', 'application/json')).headers.get('x-hookrelay-run')
    const at = middle.toISOString()
    const moscow = new Date(middle.getTime() + 3 * 3_600_000).toISOString().replace('Z', '+03:00')
    expect(ids(await hr.journal(`?since=${at}`))).toEqual([second])
    expect(ids(await hr.journal(`?until=${at}`))).toEqual([first])
    expect(ids(await hr.journal(`?since=${encodeURIComponent(moscow)}`))).toEqual([second])
    expect(ids(await hr.journal(`?since=${at.slice(0, 10)}&until=2999-01-01`))).toHaveLength(2)
  })
})

describe('listing', () => {
  async function seed(service: TestService): Promise<string[]> {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const res = await service.call('/hooks/alpha/alpha-key-0123456789', postJson({ i }))
      ids.push(res.headers.get('x-hookrelay-run')!)
    }
    const rejected = await service.call('/hooks/beta/beta-key-0123456789', { method: 'GET' })
    ids.push(rejected.headers.get('x-hookrelay-run')!)
    return ids
  }

  it('lists newest first with the fields DESIGN names', async () => {
    hr = await startHookrelay(CONFIG)
    const ids = await seed(hr)
    const page = await hr.journal()
    expect(page.next).toBeNull()
    expect(page.runs.map((r: { id: string }) => r.id)).toEqual([...ids].reverse())
    expect(Object.keys(page.runs[0]).sort()).toEqual(['duration_ms', 'error', 'id', 'pipeline', 'received_at', 'status'])
    expect(page.runs[0]).toMatchObject({ pipeline: 'beta', status: 'rejected', error: 'method GET is not allowed here (allowed: POST)' })
  })

  it('filters by pipeline and status', async () => {
    hr = await startHookrelay(CONFIG)
    const ids = await seed(hr)
    expect((await hr.journal('?pipeline=beta')).runs.map((r: { id: string }) => r.id)).toEqual([ids[5]])
    expect((await hr.journal('?status=ok')).runs).toHaveLength(5)
    expect((await hr.journal('?pipeline=beta&status=ok')).runs).toEqual([])
  })

  it('pages with a cursor until next is null', async () => {
    hr = await startHookrelay(CONFIG)
    const ids = await seed(hr)
    const seen: string[] = []
    let cursor = ''
    for (let pages = 0; pages < 10; pages++) {
      const page = await hr.journal(`?limit=2${cursor}`)
      seen.push(...page.runs.map((r: { id: string }) => r.id))
      if (!page.next) break
      cursor = `&before=${page.next}`
    }
    expect(seen).toEqual([...ids].reverse())
  })

  it.each([
    ['?limit=0', 'limit must be a whole number from 1 to 500, got \'0\''],
    ['?limit=abc', "limit must be a whole number from 1 to 500, got 'abc'"],
    ['?status=done', "status 'done' is not one of running, ok, failed, rejected, skipped, interrupted, duplicate"],
    ['?pipline=alpha', "unknown filter 'pipline' (allowed: pipeline, status, limit, before, q, since, until, pretty)"],
    ['?q=ab', 'q must be 3 to 200 characters (an email, a phone, an order number or a part of one), got 2'],
    ['?q=ab%00', 'q must not hold control characters (a line break, a tab, a NUL ...): search for one line of text'],
    ['?since=yesterday', "since must be an ISO 8601 time such as 2026-12-01T09:00:00Z or 2026-12-01T12:00:00+03:00 (or a date, 2026-12-01, for its start in UTC), got 'yesterday'"],
    ['?until=2026-13-45', "until must be an ISO 8601 time such as 2026-12-01T09:00:00Z or 2026-12-01T12:00:00+03:00 (or a date, 2026-12-01, for its start in UTC), got '2026-13-45'"],
  ])('answers 400 to %s', async (query, message) => {
    hr = await startHookrelay(CONFIG)
    const res = await hr.call(`/journal${query}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: message, code: 'HR_BAD_FILTER' })
  })

  it('answers 404 with the known ids for a pipeline in neither the config nor the journal', async () => {
    hr = await startHookrelay(CONFIG)
    await seed(hr)
    const res = await hr.call('/journal?pipeline=nope', { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: "no pipeline 'nope' in the config or the journal (known: alpha, beta)", code: 'HR_UNKNOWN_PIPELINE' })
    expect((await hr.journal('?pipeline=alpha')).runs).toHaveLength(5) // a known one with runs
  })

  it('?pretty indents the JSON for reading in a terminal', async () => {
    hr = await startHookrelay(CONFIG)
    const [id] = await seed(hr)
    for (const path of ['/journal?limit=1&pretty', `/journal/${id}?pretty`]) {
      const res = await hr.call(path, { headers: { authorization: `Bearer ${TOKEN}` } })
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
      const text = await res.text()
      expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`)
      expect(text.split('\n').length).toBeGreaterThan(5)
    }
  })

  it('answers 404 for an unknown run', async () => {
    hr = await startHookrelay(CONFIG)
    const res = await hr.call('/journal/0190-nope', { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: "run '0190-nope' not found", code: 'HR_RUN_NOT_FOUND' })
  })
})
