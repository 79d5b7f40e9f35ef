/**
 * The journal page over plain HTTP: the login and its cookie, the shared rate limit, the
 * security headers, escaping in the HTML itself, and what a wrong filter says.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AUTH_FAILURES_ALLOWED } from '../../src/journal/auth.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay, TOKEN, type TestService } from '../helpers/hookrelay.js'

const keep = closeAfterEach()
const CONFIG = `
pipelines:
  - id: leads
    source: { type: http, key: leads-key-0123456789 }
    actions: []
`
const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(fields).toString(),
  redirect: 'manual',
})

/** Logs in; returns the Cookie header to send. */
async function logIn(hr: TestService): Promise<string> {
  const res = await hr.call('/ui/login', form({ token: TOKEN }))
  expect(res.status).toBe(303)
  return res.headers.get('set-cookie')!.split(';')[0]!
}

describe('the journal page', () => {
  it('logs in with a form: a session cookie that is not the token, HttpOnly, SameSite=Strict; Secure behind HTTPS', async () => {
    const hr = await keep(startHookrelay(`server: { host: 127.0.0.1, port: 0, trust_proxy: [127.0.0.1] }\n${CONFIG}`))
    const plain = await hr.call('/ui/login', form({ token: TOKEN }))
    expect(plain.status).toBe(303)
    expect(plain.headers.get('location')).toBe('/ui')
    const cookie = plain.headers.get('set-cookie')!
    expect(cookie).toMatch(/^hookrelay_session=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/ui; HttpOnly; SameSite=Strict$/)
    expect(cookie).not.toContain(TOKEN.slice(0, 8))
    const https = await hr.call('/ui/login', form({ token: TOKEN }, { 'x-forwarded-proto': 'https' }))
    expect(https.headers.get('set-cookie')).toMatch(/; Secure/)

    const page = await hr.call('/ui', { headers: { cookie: cookie.split(';')[0]! } })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<h1>Запуски</h1>')

    // Logging out ends the session on the server, not only in the browser.
    const out = await hr.call('/ui/logout', { method: 'POST', headers: { cookie: cookie.split(';')[0]! }, redirect: 'manual' })
    expect(out.status).toBe(303)
    expect(out.headers.get('set-cookie')).toMatch(/^hookrelay_session=; Max-Age=0;|Expires=Thu, 01 Jan 1970/)
    const after = await hr.call('/ui', { headers: { cookie: cookie.split(';')[0]! } })
    expect(await after.text()).toContain('Сеанс закончился: войдите снова.')
    const run = await hr.call('/ui/runs/anything', { headers: { cookie: cookie.split(';')[0]! }, redirect: 'manual' })
    expect([run.status, run.headers.get('location')]).toEqual([303, '/ui'])
  })

  it('counts wrong tokens with the API against one limit; the right token still gets in', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    for (let i = 0; i < AUTH_FAILURES_ALLOWED; i++) expect((await hr.call('/journal', { headers: { authorization: `Bearer wrong-${i}` } })).status).toBe(401)
    const limited = await hr.call('/ui/login', form({ token: 'still-wrong' }))
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await limited.text()).toMatch(/Слишком много неудачных попыток с этого адреса. Попробуйте через \d+ с./)
    expect((await hr.call('/ui/login', form({ token: TOKEN }))).status).toBe(303)
  })

  it('sends a strict Content-Security-Policy and no-store on every page, and escapes what a request held', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    const payload = { name: '<script>alert(1)</script>', note: '"><img src=x onerror=alert(1)>', pipeline_text: "'; --" }
    const id = (await hr.call('/hooks/leads/leads-key-0123456789', postJson(payload))).headers.get('x-hookrelay-run')!
    const cookie = await logIn(hr)
    for (const path of ['/ui', `/ui/runs/${id}`, '/ui/style.css']) {
      const res = await hr.call(path, { headers: { cookie } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('x-frame-options')).toBe('DENY')
    }
    const html = await (await hr.call(`/ui/runs/${id}`, { headers: { cookie } })).text()
    expect(html).not.toContain('<script>')
    expect(html).not.toContain('<img')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).toContain('\\&#34;&gt;&lt;img src=x onerror=alert(1)&gt;')
  })

  it('says what is wrong with a filter, in the page', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    const cookie = await logIn(hr)
    const cases: Array<[string, string]> = [
      ['/ui?from=2026-02-30', 'Дата «2026-02-30» не читается: выберите её в календаре (ГГГГ-ММ-ДД).'],
      ['/ui?q=ab', 'q must be 3 to 200 characters'],
      ['/ui?pipeline=nope', "no pipeline &#39;nope&#39; in the config or the journal (known: leads)"],
    ]
    for (const [path, message] of cases) {
      const res = await hr.call(path, { headers: { cookie } })
      expect(res.status).toBe(400)
      expect(await res.text()).toContain(message)
    }
  })

  it('keeps to the days picked and shows times in journal.time_zone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookrelay-ui-'))
    const hr = await keep(startHookrelay(`journal: { path: ${join(dir, 'journal.db')}, token: ${TOKEN}, time_zone: Asia/Yekaterinburg }\n${CONFIG}`, { dir }))
    await hr.call('/hooks/leads/leads-key-0123456789', postJson({ n: 1 }))
    const cookie = await logIn(hr)
    const zone = 'Asia/Yekaterinburg'
    const today = new Date().toLocaleDateString('sv-SE', { timeZone: zone }) // YYYY-MM-DD there
    const page = async (query: string) => (await hr.call(`/ui?${query}`, { headers: { cookie } })).text()
    const rows = (html: string) => (html.match(/<td data-label="Время">/g) ?? []).length
    const html = await page(`from=${today}&to=${today}`)
    expect(rows(html)).toBe(1)
    expect(html).toContain('Время указано в часовом поясе Asia/Yekaterinburg (journal.time_zone).')
    const shown = new Intl.DateTimeFormat('ru-RU', { timeZone: zone, dateStyle: 'short' }).format(new Date())
    expect(html).toContain(shown)
    expect(rows(await page('to=2020-01-01'))).toBe(0)
    expect(rows(await page('from=2999-01-01'))).toBe(0)
  })
})
