/**
 * The integrations' error forms against the doubles: each ends as a failed step whose journal
 * error is the service's own message, with its secret masked. And email.send's letter, read
 * back from a real SMTP server.
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { BIZON, DIMAKER, GETCOURSE, startBizon, startDimaker, startGetcourse } from '../helpers/doubles.js'
import { startHookrelay, type TestService } from '../helpers/hookrelay.js'
import { startSmtp } from '../helpers/smtp.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

/** Runs one GET through a single-action pipeline and returns the journaled run. */
async function runOnce(action: string, env: NodeJS.ProcessEnv, answer = '') {
  const query = 'email=ivan%40example.com&first_name=%D0%98%D0%B2%D0%B0%D0%BD'
  const hr: TestService = await keep(
    startHookrelay(
      `
pipelines:
  - id: p
    source: { type: getcourse.user, key: p-key-0123456789, response: { body: "${answer}" } }
    actions:
${action.replace(/^/gm, '      ')}
`,
      { env },
    ),
  )
  const res = await hr.call(`/hooks/p/p-key-0123456789?${query}`)
  const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
  return { res, run, text: JSON.stringify(run) + hr.logs.join('\n') }
}

describe('bizon365.subscribe', () => {
  const action = (url: string, pageId = BIZON.pageId) => `- id: reg
  type: bizon365.subscribe
  token: "\${BIZON_TOKEN}"
  page_id: "${pageId}"
  email: "{{ in.email }}"
  base_url: ${url}`

  it('fails with Bizon365 validation errors in its own words', async () => {
    const bizon = await keep(startBizon())
    const { res, run, text } = await runOnce(action(bizon.url, '999:nope'), { BIZON_TOKEN: BIZON.token })
    expect(res.status).toBe(502)
    expect(run.status).toBe('failed')
    expect(run.steps[0].error).toBe('Bizon365 answered 400: Ошибка валидации (pageId: Страница регистрации не найдена)')
    expect(run.steps[0].response.status).toBe(400)
    expect(text).not.toContain(BIZON.token)
  })

  it('fails on a wrong X-Token with the message', async () => {
    const bizon = await keep(startBizon())
    const { run, text } = await runOnce(action(bizon.url), { BIZON_TOKEN: 'wrong-token-123' })
    expect(run.steps[0].error).toBe('Bizon365 answered 401: Неверный токен доступа')
    expect(run.steps[0].request.headers['X-Token']).toBe('***')
    expect(text).not.toContain('wrong-token-123')
  })

  it('outputs hash and url on success', async () => {
    const bizon = await keep(startBizon())
    const { res, run } = await runOnce(action(bizon.url), { BIZON_TOKEN: BIZON.token }, '{{ steps.reg.hash }} {{ steps.reg.url }}')
    expect(res.status).toBe(200)
    const answer = JSON.parse(run.steps[0].response.body) as { hash: string; url_default: string }
    expect(run.steps[0]).toMatchObject({ status: 'ok', error: null })
    expect(bizon.requests[0]!.body).toBe('pageId=123456%3Amy-webinar&email=ivan%40example.com')
    expect(await res.text()).toBe(`${answer.hash} ${answer.url_default}`)
  })
})

describe('dimaker.create', () => {
  const action = (url: string, result = 'link') => `- id: cert
  type: dimaker.create
  secure: "\${DIMAKER_TOKEN}"
  doc_id: ${DIMAKER.docId}
  result: ${result}
  masks: { name: "{{ in.first_name }}" }
  base_url: ${url}`

  it('fails on a bad token with DiMaker\'s message', async () => {
    const dimaker = await keep(startDimaker())
    const { run, text } = await runOnce(action(dimaker.url), { DIMAKER_TOKEN: 'bad-secure-token-1' })
    expect(run.steps[0].error).toBe('DiMaker answered 200: Invalid secure token')
    expect(text).not.toContain('bad-secure-token-1')
  })

  it('takes the link out of a JSON answer too', async () => {
    const dimaker = await keep(startDimaker())
    const { res, run } = await runOnce(action(dimaker.url, 'json'), { DIMAKER_TOKEN: DIMAKER.secure }, '{{ steps.cert.link }}')
    expect(res.status).toBe(200)
    expect(dimaker.requests[0]!.body).not.toContain('result=')
    const link = await res.text()
    expect(link).toMatch(/^https:\/\/dimaker\.app\/d\/[0-9a-f-]{36}\.pdf$/)
    expect(JSON.parse(run.steps[0].response.body)).toEqual({ status: 'success', result: link })
  })

  it('finds the link where link_path says, in an answer shaped otherwise', async () => {
    const link = 'https://dimaker.app/d/nested-0001.pdf'
    const dimaker = await keep(startStub((_req, res) => json(res, 200, { status: 'success', data: { files: [{ url: link }] } })))
    const config = `${action(dimaker.url, 'json')}\n  link_path: data.files[0].url`
    const { res } = await runOnce(config, { DIMAKER_TOKEN: DIMAKER.secure }, '{{ steps.cert.link }}')
    expect(await res.text()).toBe(link)
    const without = await runOnce(action(dimaker.url, 'json'), { DIMAKER_TOKEN: DIMAKER.secure })
    expect(without.run.steps[0].error).toBe('DiMaker answered 200: success')
  })
})

describe('getcourse.update_user', () => {
  const action = (url: string, email = '{{ in.email }}') => `- id: save
  type: getcourse.update_user
  base_url: ${url}
  key: "\${GETCOURSE_KEY}"
  user: { email: "${email}", first_name: "{{ in.first_name }}", addfields: { "Уровень": "Начинающий" } }`

  it('fails when the import was refused inside result (result.error true)', async () => {
    const gc = await keep(startGetcourse())
    const { run } = await runOnce(action(gc.url, GETCOURSE.forbiddenEmail), { GETCOURSE_KEY: GETCOURSE.key })
    expect(run.steps[0].error).toBe('GetCourse answered 200: Действие запрещено')
  })

  it('fails on a wrong key with the top-level error', async () => {
    const gc = await keep(startGetcourse())
    const { run, text } = await runOnce(action(gc.url), { GETCOURSE_KEY: 'not-the-key-42' })
    expect(run.steps[0].error).toBe('GetCourse answered 200: Неавторизованное обращение')
    expect(text).not.toContain('not-the-key-42')
  })

  it('says the plan lacks the API when the answer is an empty 200', async () => {
    const gc = await keep(startGetcourse())
    gc.noApi = true
    const { run } = await runOnce(action(gc.url), { GETCOURSE_KEY: GETCOURSE.key })
    expect(run.steps[0].error).toBe(
      "GetCourse answered 200: an empty body: the account's plan has no import API, or the request was redirected (check account/base_url)",
    )
  })

  it('accepts flags written as "true" and 1, and outputs user_id', async () => {
    const gc = await keep(startGetcourse())
    const { res, run } = await runOnce(action(gc.url), { GETCOURSE_KEY: GETCOURSE.key }, '{{ steps.save.user_id }}')
    expect(run.status).toBe('ok')
    expect(await res.text()).toBe(String(GETCOURSE.userId))
    expect(gc.decoded()).toEqual([{ user: { email: 'ivan@example.com', first_name: 'Иван', addfields: { Уровень: 'Начинающий' } }, system: { refresh_if_exists: 1 } }])
  })
})

describe('email.send', () => {
  it('delivers a letter with the rendered headers and body to a real SMTP server', async () => {
    const mailbox = await keep(startSmtp())
    const hr = await keep(
      startHookrelay(
        `
notify:
  email: { smtp: "\${SMTP_URL}", from: "Школа <school@example.ru>", to: [ops@example.ru] }
pipelines:
  - id: mail
    source: { type: http, key: mail-key-0123456789 }
    actions:
      - id: letter
        type: email.send
        to: ["{{ in.email }}", "copy@example.ru"]
        subject: "Заказ №{{ in.number }}"
        text: "Здравствуйте, {{ in.name }}!"
        html: "<p>Здравствуйте, <b>{{ in.name }}</b>!</p>"
        reply_to: help@example.ru
`,
        { env: { SMTP_URL: mailbox.url } },
      ),
    )
    const res = await hr.call('/hooks/mail/mail-key-0123456789?email=ivan%40example.com&number=6543&name=%D0%98%D0%B2%D0%B0%D0%BD')
    expect(res.status).toBe(200)
    const [letter] = await mailbox.waitFor(1)
    expect(letter!.from?.value).toEqual([{ address: 'school@example.ru', name: 'Школа' }])
    expect(letter!.to).toMatchObject({ value: [{ address: 'ivan@example.com' }, { address: 'copy@example.ru' }] })
    expect(letter!.subject).toBe('Заказ №6543')
    expect(letter!.replyTo?.text).toBe('help@example.ru')
    expect(letter!.text?.trim()).toBe('Здравствуйте, Иван!')
    expect(letter!.html).toBe('<p>Здравствуйте, <b>Иван</b>!</p>')
    expect(mailbox.recipients[0]).toEqual(['ivan@example.com', 'copy@example.ru'])
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.steps[0]).toMatchObject({ status: 'ok', response: { accepted: ['ivan@example.com', 'copy@example.ru'] } })
    expect(JSON.stringify(run) + hr.logs.join('')).not.toContain('smtp-pass-9c41e2')
  })

  it('fails the step when the SMTP server refuses the login', async () => {
    const mailbox = await keep(startSmtp())
    const hr = await keep(
      startHookrelay(
        `
notify:
  email: { smtp: "smtp://hookrelay:wrong-pass-77@127.0.0.1:${mailbox.port}", from: school@example.ru, to: [ops@example.ru] }
pipelines:
  - id: mail
    source: { type: http, key: mail-key-0123456789 }
    actions:
      - { id: letter, type: email.send, to: "a@example.ru", subject: "x", text: "y", timeout: 5s }
`,
      ),
    )
    const res = await hr.call('/hooks/mail/mail-key-0123456789')
    expect(res.status).toBe(502)
    const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
    expect(run.steps[0].error).toMatch(/^the letter was not sent: Invalid login/)
    expect(JSON.stringify(run)).not.toContain('wrong-pass-77')
  })
})
