/**
 * The journal page in a real browser (Debian's chromium, driven by playwright-core), used the
 * way an admin would: log in (a wrong token first), filter, search by an email, open a run,
 * read masked values and hostile payloads shown as text, log out. Screenshots of the list and a
 * run page (desktop and phone) go to test-artifacts/ for a person to look at.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { ROOT } from '../helpers/process.js'
import { postJson, startHookrelay, TOKEN, type TestService } from '../helpers/hookrelay.js'
import { json, startStub } from '../helpers/stub.js'

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))
if (!CHROMIUM) {
  console.warn(
    '\n\n*** THE BROWSER TEST OF THE JOURNAL PAGE IS SKIPPED: no chromium here. Install it (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH. ***\n\n',
  )
}
const ARTIFACTS = join(ROOT, 'test-artifacts')
const keep = closeAfterEach()

const SECRET_HEADER = 'crm-secret-7c1d9e4b2a60f3'
const BODY_TOKEN = 'body-token-5a9f2c7e1b3d'
const SCRIPT = '<script>document.title="pwned"</script>'
const IMG = '"><img src=x onerror="document.title=\'pwned\'">'

describe.skipIf(!CHROMIUM)('the journal page in a browser', () => {
  let browser: Browser
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--disable-gpu'] })
  })
  afterAll(async () => {
    await browser?.close()
  })

  async function seed(): Promise<{ hr: TestService; ids: Record<string, string> }> {
    const crm = await keep(startStub((req, res) => (JSON.parse(req.body).email === 'fail@example.com' ? json(res, 500, { error: 'CRM is down' }) : json(res, 200, { id: 42, echoed: req.headers['x-api-key'] }))))
    const hr = await keep(
      startHookrelay(
        `
pipelines:
  - id: tilda-leads
    source: { type: http, key: leads-key-0123456789 }
    actions:
      - { id: lead, type: json.parse, fields: { email: "$.email", name: "$.name" } }
      - { id: crm, type: http.request, url: "${crm.url}/leads", headers: { X-Api-Key: "\${CRM_KEY}" }, body: { json: { email: "{{ steps.lead.email }}" } } }
  - id: gc-orders
    source: { type: http, key: orders-key-0123456789 }
    actions: []
`,
        { env: { CRM_KEY: SECRET_HEADER } },
      ),
    )
    const send = async (path: string, body: unknown) => (await hr.call(path, postJson(body))).headers.get('x-hookrelay-run')!
    const ids = {
      olga: await send('/hooks/tilda-leads/leads-key-0123456789', { email: 'olga.ivanova@example.ru', name: 'Ольга', api_token: BODY_TOKEN }),
      hostile: await send('/hooks/tilda-leads/leads-key-0123456789', { email: 'x@example.com', name: SCRIPT, note: IMG }),
      failed: await send('/hooks/tilda-leads/leads-key-0123456789', { email: 'fail@example.com', name: 'Пётр' }),
      order: await send('/hooks/gc-orders/orders-key-0123456789', { order: 'GC-1001' }),
    }
    return { hr, ids }
  }

  /** The text of the first element `selector` finds (waiting for it), or '' while there is none. */
  const textOf = (page: Page, selector: string) => page.locator(selector).first().innerText({ timeout: 1000 }).catch(() => '')

  /** A page that fails the test on any dialog or script error (an injected script would cause one). */
  async function open(locale = 'ru-RU', viewport = { width: 1280, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ locale, viewport })
    keep(Promise.resolve({ close: () => context.close() }))
    const page = await context.newPage()
    page.on('dialog', (dialog) => {
      throw new Error(`a dialog opened: ${dialog.message()}`)
    })
    return page
  }

  it('logs in, filters, searches by an email, shows a run masked and escaped, logs out', async () => {
    const { hr, ids } = await seed()
    const page = await open()

    const first = await page.goto(`${hr.url}/ui`)
    expect(first!.headers()['content-security-policy']).toContain("default-src 'none'")
    await expect.poll(() => textOf(page, 'h1')).toBe('Вход в журнал')

    // A wrong token: said plainly, still on the login page.
    await page.fill('input[name=token]', 'not-the-token')
    await page.click('button[type=submit]')
    await expect.poll(() => textOf(page, '.problem')).toContain('Токен не подошёл')

    await page.fill('input[name=token]', TOKEN)
    await page.click('button[type=submit]')
    await expect.poll(() => textOf(page, 'h1')).toBe('Запуски')
    const cookie = (await page.context().cookies()).find((c) => c.name === 'hookrelay_session')!
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' })
    expect(cookie.value).not.toContain(TOKEN.slice(0, 8))
    await expect.poll(() => page.locator('table.runs tbody tr').count()).toBe(4)
    await page.screenshot({ path: join(ARTIFACTS, 'journal-list.png'), fullPage: true })

    // Filter by pipeline and status.
    await page.selectOption('select[name=pipeline]', 'tilda-leads')
    await page.selectOption('select[name=status]', 'failed')
    await page.click('form.filters button[type=submit]')
    await expect.poll(() => page.locator('table.runs tbody tr').count()).toBe(1)
    await expect.poll(() => textOf(page, 'table.runs tbody tr td.error')).toContain('upstream answered 500')

    // Search by a part of an email, across statuses.
    await page.goto(`${hr.url}/ui`)
    await page.fill('input[name=q]', 'olga.ivanova@exam')
    await page.click('form.filters button[type=submit]')
    await expect.poll(() => page.locator('table.runs tbody tr').count()).toBe(1)
    // A secret in a body cannot be searched for.
    await page.goto(`${hr.url}/ui?q=${BODY_TOKEN.slice(0, 10)}`)
    await expect.poll(() => textOf(page, '.empty')).toBe('Ничего не найдено. Проверьте фильтры или поищите часть значения.')

    // Open Olga's run: masked values, pretty JSON, the replay command.
    await page.goto(`${hr.url}/ui?q=olga`)
    await page.click('table.runs tbody tr a')
    await expect.poll(() => textOf(page, 'h1')).toContain(ids.olga)
    const text = await page.locator('main').innerText()
    expect(text).toContain('"email": "olga.ivanova@example.ru"')
    expect(text).toContain('"api_token": "***"')
    expect(text).toContain('"X-Api-Key": "***"')
    expect(text).toContain(`hookrelay replay ${ids.olga} --config ${join(hr.dir, 'config.yaml')}`)
    const html = await page.content()
    for (const secret of [SECRET_HEADER, BODY_TOKEN]) for (const piece of [secret.slice(0, 8), secret.slice(-8)]) expect(html).not.toContain(piece)
    await page.screenshot({ path: join(ARTIFACTS, 'journal-run.png'), fullPage: true })

    // The hostile run: its payloads are text, nothing ran.
    await page.goto(`${hr.url}/ui/runs/${ids.hostile}`)
    const body = await page.locator('pre.body').innerText()
    expect(body).toContain(SCRIPT.replaceAll('"', '\\"'))
    expect(body).toContain('<img src=x onerror=')
    expect(await page.locator('main img').count()).toBe(0)
    expect(await page.locator('main script').count()).toBe(0)
    expect(await page.title()).not.toBe('pwned')

    // Log out: the session is over, and the run page leads to the login.
    await page.click('header button')
    await expect.poll(() => textOf(page, 'h1')).toBe('Вход в журнал')
    await page.goto(`${hr.url}/ui/runs/${ids.olga}`)
    await expect.poll(() => textOf(page, 'h1')).toBe('Вход в журнал')
  })

  it('speaks English to an English browser, and fits a phone', async () => {
    const { hr, ids } = await seed()
    const page = await open('en-US', { width: 390, height: 844 })
    await page.goto(`${hr.url}/ui`)
    await expect.poll(() => textOf(page, 'h1')).toBe('Log in to the journal')
    await page.fill('input[name=token]', TOKEN)
    await page.click('button[type=submit]')
    await expect.poll(() => textOf(page, 'h1')).toBe('Runs')
    expect(await page.locator('table.runs tbody tr').first().locator('td').nth(2).innerText()).toContain('ok')
    // Nothing wider than the screen but the code blocks, which scroll on their own.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(ARTIFACTS, 'journal-list-phone.png'), fullPage: true })
    await page.goto(`${hr.url}/ui/runs/${ids.failed}`)
    await expect.poll(() => textOf(page, '.facts')).toContain('failed')
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(ARTIFACTS, 'journal-run-phone.png'), fullPage: true })
  })
})
