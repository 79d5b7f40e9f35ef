/**
 * Senders that put values into a URL without percent-encoding them, over raw sockets: raw UTF-8
 * and spaces in the request target are encoded and the request handled as if it had come
 * encoded, on the same connection. Every other request the HTTP parser refuses is answered,
 * counted in /healthz, logged, and kept when it names a pipeline and its key.
 */
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { startHookrelay, type TestService } from '../helpers/hookrelay.js'
import { startStub, type Stub } from '../helpers/stub.js'

const keep = closeAfterEach()

const KEY = 'gc-key-0123456789'

interface Answer {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * Writes `parts` on one connection, `pauseMs` apart (separate TCP packets), and reads every
 * answer until the server closes it (the last request asks it to).
 */
function converse(service: TestService, parts: Array<string | Buffer>, pauseMs = 100): Promise<Answer[]> {
  const { port } = new URL(service.url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, pauseMs))
        socket.write(part)
      }
    })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the server did not close the connection: ${Buffer.concat(chunks).toString()}`))
    }, 5000)
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(parseAnswers(Buffer.concat(chunks)))
    })
  })
}

function parseAnswers(bytes: Buffer): Answer[] {
  const answers: Answer[] = []
  for (let at = 0; at < bytes.length; ) {
    const headEnd = bytes.indexOf('\r\n\r\n', at)
    const [statusLine = '', ...lines] = bytes.toString('latin1', at, headEnd).split('\r\n')
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
    const length = Number(headers['content-length'] ?? 0)
    answers.push({ status: Number(statusLine.split(' ')[1]), headers, body: bytes.toString('utf8', headEnd + 4, headEnd + 4 + length) })
    at = headEnd + 4 + length
  }
  return answers
}

async function health(service: TestService): Promise<{ not_found: number; parser_refused: Record<string, number>; targets_encoded: number }> {
  return (await service.call('/healthz')).json() as never
}

async function start(): Promise<{ hr: TestService; crm: Stub }> {
  const crm = await keep(startStub())
  const hr = await keep(
    startHookrelay(`
pipelines:
  - id: gc
    source: { type: getcourse.user, key: ${KEY} }
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/contacts", body: { json: { email: "{{ in.email }}", name: "{{ in.first_name }}", note: "{{ in.note | default: '' }}" } } }
`),
  )
  return { hr, crm }
}

describe('a request target that is not percent-encoded', () => {
  it('is encoded: the fields arrive decoded, and the journal keeps the request as if it had been sent encoded', async () => {
    const { hr, crm } = await start()
    const raw = `GET /hooks/gc/${KEY}?email=ivan%40example.ru&first_name=Иван Петров HTTP/1.1\r\nHost: school.example\r\nConnection: close\r\n\r\n`
    const encoded = `GET /hooks/gc/${KEY}?email=ivan%40example.ru&first_name=${encodeURIComponent('Иван Петров')} HTTP/1.1\r\nHost: school.example\r\nConnection: close\r\n\r\n`
    const [fromRaw] = await converse(hr, [Buffer.from(raw)])
    const [fromEncoded] = await converse(hr, [encoded])
    expect(fromRaw!.status).toBe(200)
    expect(crm.requests.map((r) => JSON.parse(r.body))).toEqual([
      { email: 'ivan@example.ru', name: 'Иван Петров', note: '' },
      { email: 'ivan@example.ru', name: 'Иван Петров', note: '' },
    ])
    const [rawRun, encodedRun] = await Promise.all([fromRaw, fromEncoded].map((a) => hr.journal(`/${a!.headers['x-hookrelay-run']}`)))
    expect(rawRun.status).toBe('ok')
    expect(rawRun.request).toEqual(encodedRun.request)
    expect(rawRun.request.query).toEqual({ email: 'ivan@example.ru', first_name: 'Иван Петров' })
    expect(fromRaw!.body).toBe(fromEncoded!.body)
    expect((await health(hr)).targets_encoded).toBe(1)
  })

  it('keeps the connection: a POST with a raw query and its JSON body in a second packet, then the next request', async () => {
    const { hr, crm } = await start()
    const body = JSON.stringify({ email: 'olga@example.ru', note: 'оплата из формы' })
    const answers = await converse(hr, [
      `POST /hooks/gc/${KEY}?first_name=Ольга Смирнова HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
      body,
      `GET /hooks/gc/${KEY}?email=a%40b.ru&first_name=Anna HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    ])
    expect(answers.map((a) => a.status)).toEqual([200, 200])
    expect(crm.requests.map((r) => JSON.parse(r.body))).toEqual([
      { email: 'olga@example.ru', name: 'Ольга Смирнова', note: 'оплата из формы' },
      { email: 'a@b.ru', name: 'Anna', note: '' },
    ])
  })

  it('is encoded when the request line itself arrives in two packets, split after the raw bytes', async () => {
    const { hr, crm } = await start()
    const line = Buffer.from(`GET /hooks/gc/${KEY}?email=a%40b.ru&first_name=Иван&note=${'очень длинная заметка '.repeat(40)}HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    const [answer] = await converse(hr, [line.subarray(0, 120), line.subarray(120)])
    expect(answer!.status).toBe(200)
    expect(JSON.parse(crm.requests[0]!.body)).toEqual({ email: 'a@b.ru', name: 'Иван', note: 'очень длинная заметка '.repeat(40).trim() })
  })

  it('in the path of an unknown pipeline: 404 and counted, never journaled', async () => {
    const { hr } = await start()
    const before = await health(hr)
    const [answer] = await converse(hr, [`GET /hooks/лиды с сайта/${KEY} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`])
    expect(answer!.status).toBe(404)
    expect(JSON.parse(answer!.body)).toEqual({ error: 'not found', code: 'HR_NOT_FOUND' })
    const after = await health(hr)
    expect(after.not_found - before.not_found).toBe(1)
    expect(after.targets_encoded - before.targets_encoded).toBe(1)
    expect((await hr.journal()).runs).toEqual([])
  })
})

describe('every other refusal of the HTTP parser', () => {
  it('a smuggling attempt (Content-Length with Transfer-Encoding) to a pipeline: 400, counted, logged, kept with its request line', async () => {
    const { hr, crm } = await start()
    const before = await health(hr)
    const [answer] = await converse(hr, [
      `POST /hooks/gc/${KEY}?email=a%40b.ru HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /journal HTTP/1.1\r\nHost: x\r\n\r\n`,
    ])
    expect(answer!.status).toBe(400)
    const body = JSON.parse(answer!.body)
    expect(body).toEqual({ error: expect.stringMatching(/^bad request: malformed HTTP request: .*smuggling.* \(HPE_[A-Z_]+\)$/), code: 'HR_BAD_REQUEST', run_id: answer!.headers['x-hookrelay-run'] })
    const reason = /\((HPE_[A-Z_]+)\)$/.exec(body.error)![1]!
    expect((await health(hr)).parser_refused[reason]).toBe((before.parser_refused[reason] ?? 0) + 1)
    const run = await hr.journal(`/${body.run_id}`)
    expect(run).toMatchObject({ status: 'rejected', error: body.error, steps: [] })
    expect(run.request).toMatchObject({ method: 'POST', line: 'POST /hooks/gc/***?email=a%40b.ru HTTP/1.1', query: { email: 'a@b.ru' }, headers: {}, raw: '' })
    expect(crm.requests).toHaveLength(0)
    const logged = hr.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request refused by the HTTP parser')
    expect(logged).toEqual([expect.objectContaining({ level: 30, reason, line: 'POST /hooks/gc/***?email=a%40b.ru' })])
    expect(hr.logs.join('\n')).not.toContain(KEY)
  })

  it('a control character in the target is not repaired: 400, counted; a wrong key is not kept', async () => {
    const { hr } = await start()
    const [withTab] = await converse(hr, [`GET /hooks/gc/${KEY}?first_name=a\tb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`])
    expect(withTab!.status).toBe(400)
    expect(JSON.parse(withTab!.body).code).toBe('HR_BAD_REQUEST')
    const [wrongKey] = await converse(hr, [`GET /hooks/gc/wrong-key-000000000?x=a\tb HTTP/1.1\r\nHost: x\r\n\r\n`])
    expect(wrongKey!.status).toBe(400)
    expect(wrongKey!.headers['x-hookrelay-run']).toBeUndefined()
    const { runs } = await hr.journal()
    expect(runs.map((r: { status: string }) => r.status)).toEqual(['rejected'])
    expect((await health(hr)).parser_refused).toEqual({ HPE_INVALID_URL: 2 })
  })

  it('after a refusal the connection is answered and closed: what follows on it is neither counted nor run', async () => {
    const { hr, crm } = await start()
    const answers = await converse(
      hr,
      [
        `POST /hooks/gc/${KEY}?email=a%40b.ru HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n`,
        `0\r\n\r\nGET /hooks/gc/${KEY}?first_name=Иван HTTP/1.1\r\nHost: x\r\n\r\n`,
      ],
      2,
    )
    expect(answers.map((a) => a.status)).toEqual([400])
    expect(answers[0]!.headers['x-hookrelay-run']).toBeDefined() // the answer the journal says was sent
    const refused = (await health(hr)).parser_refused
    expect(Object.values(refused).reduce((a, b) => a + b, 0)).toBe(1)
    expect(crm.requests).toHaveLength(0)
  })

  it('a refused request pipelined behind a served one is not kept under the served one\'s line', async () => {
    const { hr, crm } = await start()
    const answers = await converse(hr, [
      `GET /hooks/gc/${KEY}?email=a%40b.ru&first_name=Anna HTTP/1.1\r\nHost: x\r\n\r\nGET /hooks/gc/${KEY}?first_name=a\tb HTTP/1.1\r\nHost: x\r\n\r\n`,
    ])
    expect(answers.map((a) => a.status)).toContain(400)
    await expect.poll(() => crm.requests.length).toBe(1) // the first was served
    const { runs } = await hr.journal()
    expect(runs.map((r: { status: string }) => r.status)).toEqual(['ok'])
  })

  it('logs at most 10 refusals a minute', async () => {
    const { hr } = await start()
    for (let i = 0; i < 15; i++) await converse(hr, [`GET /x?a=\x01 HTTP/1.1\r\nHost: x\r\n\r\n`])
    expect((await health(hr)).parser_refused).toEqual({ HPE_INVALID_URL: 15 })
    expect(hr.logs.filter((l) => l.includes('request refused by the HTTP parser'))).toHaveLength(10)
  })
})
