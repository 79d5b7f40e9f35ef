/** Journal access under attack, the server's explicit settings, and no string evaluation anywhere. */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AUTH_FAILURES_ALLOWED } from '../../src/journal/auth.js'
import { SERVER_LIMITS } from '../../src/server.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startHookrelay, TOKEN } from '../helpers/hookrelay.js'
import { expectHealthy, rawRequest } from '../helpers/raw.js'

const keep = closeAfterEach()
const CONFIG = 'pipelines: []\n'

describe('journal access', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong token of the same length', { authorization: `Bearer ${'x'.repeat(TOKEN.length)}` }],
    ['a one-character token', { authorization: 'Bearer x' }],
    ['a 10,000-character token', { authorization: `Bearer ${'y'.repeat(10_000)}` }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
    ['a Latin-1 token', { authorization: 'Bearer t\u00f6k\u00e9n' }],
  ])('%s: 401, never 500', async (_name, headers) => {
    const hr = await keep(startHookrelay(CONFIG))
    const res = await hr.call('/journal', { headers: headers as Record<string, string> })
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: 'missing or wrong bearer token', code: 'HR_UNAUTHORIZED' })
    await expectHealthy(hr)
  })

  it('a UTF-8 token sent as raw bytes: 401', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    const head = Buffer.concat([Buffer.from('GET /journal HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer '), Buffer.from('тест-токен'), Buffer.from('\r\n\r\n')])
    const res = await rawRequest(hr, head)
    expect(res.status).toBe(401)
    await expectHealthy(hr)
  })

  it('rate-limits repeated failures with 429 and Retry-After; the right token still gets in', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    for (let i = 0; i < AUTH_FAILURES_ALLOWED; i++) {
      expect((await hr.call('/journal', { headers: { authorization: `Bearer guess-${i}` } })).status).toBe(401)
    }
    const limited = await hr.call('/journal', { headers: { authorization: 'Bearer guess-again' } })
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await limited.json()).toMatchObject({ code: 'HR_TOO_MANY_ATTEMPTS' })
    // The operator behind the same address is not locked out by someone else's guesses.
    const operator = await hr.call('/journal', { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(operator.status).toBe(200)
    expect(await operator.json()).toEqual({ runs: [], next: null })
    expect((await hr.call('/journal', { headers: { authorization: 'Bearer guess-after' } })).status).toBe(429)
    expect((await hr.call('/journal')).status).toBe(429) // no token at all counts as a wrong one
    await expectHealthy(hr)
  })
})

describe('server settings', () => {
  it('sets every limit explicitly', async () => {
    const hr = await keep(startHookrelay(`server: { host: 127.0.0.1, port: 0, request_timeout: 7s, body_limit: 12345 }\n${CONFIG}`))
    const server = hr.service.app.server
    expect(server.requestTimeout).toBe(7000)
    expect(server.headersTimeout).toBe(Math.min(SERVER_LIMITS.headersTimeoutMs, 7000))
    expect(server.keepAliveTimeout).toBe(SERVER_LIMITS.keepAliveTimeoutMs)
    expect(server.timeout).toBe(SERVER_LIMITS.connectionTimeoutMs)
    expect(hr.service.app.initialConfig).toMatchObject({ bodyLimit: 12345 })
  })

  /** Fails the journal token from `client` (an X-Forwarded-For) until limited; returns the last status for `other`. */
  async function limitThenTry(hr: Awaited<ReturnType<typeof startHookrelay>>, client: string, other: string): Promise<number> {
    for (let i = 0; i <= AUTH_FAILURES_ALLOWED; i++) await hr.call('/journal', { headers: { authorization: 'Bearer no', 'x-forwarded-for': client } })
    return (await hr.call('/journal', { headers: { authorization: 'Bearer no', 'x-forwarded-for': other } })).status
  }

  it('ignores X-Forwarded-For by default: all clients are the peer address', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    expect(await limitThenTry(hr, '203.0.113.1', '203.0.113.2')).toBe(429)
    await expectHealthy(hr) // the limit is on the journal only
  })

  it('believes X-Forwarded-For from a configured proxy', async () => {
    const hr = await keep(startHookrelay(`server: { host: 127.0.0.1, port: 0, trust_proxy: [127.0.0.1] }\n${CONFIG}`))
    expect(await limitThenTry(hr, '203.0.113.1', '203.0.113.2')).toBe(401)
    await expectHealthy(hr) // the limit is on the journal only
  })

  it('refuses a trust_proxy entry that is not an address', async () => {
    await expect(startHookrelay(`server: { host: 127.0.0.1, port: 0, trust_proxy: [my-proxy] }\n${CONFIG}`)).rejects.toThrow(
      "server.trust_proxy[0]: 'my-proxy' is not an IP address or CIDR (e.g. 10.0.0.1 or 172.16.0.0/12)",
    )
  })
})

describe('the code', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name)
      return statSync(path).isDirectory() ? files(path) : [path]
    })

  it.each(files('src'))('%s evaluates no strings (no eval, new Function, vm)', (file) => {
    const code = readFileSync(file, 'utf8')
    expect(code).not.toMatch(/\beval\s*\(|new\s+Function\s*\(|['"](node:)?vm['"]/)
  })
})
