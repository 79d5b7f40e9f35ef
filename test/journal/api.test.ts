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
    ['?pipline=alpha', "unknown filter 'pipline' (allowed: pipeline, status, limit, before)"],
  ])('answers 400 to %s', async (query, message) => {
    hr = await startHookrelay(CONFIG)
    const res = await hr.call(`/journal${query}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: message, code: 'HR_BAD_FILTER' })
  })

  it('answers 404 for an unknown run', async () => {
    hr = await startHookrelay(CONFIG)
    const res = await hr.call('/journal/0190-nope', { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: "run '0190-nope' not found", code: 'HR_RUN_NOT_FOUND' })
  })
})
