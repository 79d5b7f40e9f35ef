/**
 * Hostile input, generated (fast-check): bodies of every shape (long values, many fields, deep
 * nesting, escape-heavy and non-Latin characters, invalid UTF-8) as JSON, forms, text and query
 * strings, to every kind of source, and to pipelines that render caller data into URLs. For each
 * request: an answer (never a 5xx of hookrelay's own), no piece of any secret in the answer, the
 * journal's view of its run or the log, the request kept byte for byte, the server alive.
 *
 * Bounded: FUZZ_RUNS requests per property (default 40), each with the client's timeout. On a
 * failure fast-check prints the seed and the path; FUZZ_SEED=<seed> runs that sequence again.
 */
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fragmentsIn } from '../helpers/canary.js'
import { createHmac } from 'node:crypto'
import { startHookrelay, type TestService } from '../helpers/hookrelay.js'
import { startStub, type Stub } from '../helpers/stub.js'

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 40)
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED'])
const KEY = 'fuzz-key-0123456789'
/** The answer to one request, however hostile, comes within this (the answers here take milliseconds). */
const ANSWER_TIMEOUT_MS = 15_000

/**
 * Secrets the config holds, one the request's header brings, one its body holds under a secret
 * name. Random-looking, so that no generated name or text holds eight characters of one.
 */
const CONFIG = { crmToken: 'Ct5vQ8zXw2Nr7Lk3Hm', fbSecret: 'Fs3aJ9qWv6Tz1Yb4Pd' }
const BEARER = 'Br7xK2mQ9vZc4Rt8Wn'
const IN_BODY = 'Pw4zH6nJ1xVq8Ls3Gk'
/** The Graph API page token, written in the config: Facebook's lead reads send it. */
const PAGE_TOKEN = 'Pg6tW3nQ8xLz2Vk5Rb'
const SECRETS = { ...CONFIG, pageToken: PAGE_TOKEN, urlKey: KEY, bearer: BEARER, inBody: IN_BODY }

const PIPELINES = ['plain', 'crm', 'link', 'query-token', 'gc-user', 'gc-order', 'tilda', 'vk', 'facebook'] as const
type Pipeline = (typeof PIPELINES)[number]

let hr: TestService
let upstream: Stub
let db: Database.Database

beforeAll(async () => {
  // The upstream echoes what it got, as a careless API does: the echo comes back through the answer.
  upstream = await startStub(
    (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ url: req.url, headers: req.headers, body: req.body })) // credentials too
    },
    { maxHeaderSize: 1 << 20 },
  )
  hr = await startHookrelay(
    `
pipelines:
  - id: plain
    source: { type: http, key: ${KEY}, response: { body: "{{ in | json }}" } }
    actions: []
  - id: crm
    source: { type: http, key: ${KEY}, response: { body: "{{ steps.find.body }}" } }
    actions:
      - { id: find, type: http.request, url: "${upstream.url}/find?email={{ in.email | default: '' }}", headers: { X-Token: "\${CRM_TOKEN}" } }
  - id: link
    source: { type: http, key: ${KEY} }
    actions:
      - { id: call, type: http.request, url: "${upstream.url}/{{ in.path | default: '' }}", body: { json: "{{ in }}" } }
  - id: query-token
    source: { type: http, key: ${KEY}, response: { body: "{{ steps.call.body }}" } }
    actions:
      - { id: call, type: http.request, url: "${upstream.url}/q?token={{ in.token | default: '' }}&name={{ in.name | default: '' }}" }
  - id: gc-user
    source: { type: getcourse.user, key: ${KEY} }
    actions: []
  - id: gc-order
    source: { type: getcourse.order, key: ${KEY} }
    actions: []
  - id: tilda
    source: { type: tilda, key: ${KEY} }
    actions:
      - { id: crm, type: http.request, url: "${upstream.url}/tilda", body: { json: "{{ in }}" } }
  - id: vk
    source: { type: vk, key: ${KEY}, confirmation: fuzz-confirmation }
    actions:
      - { id: crm, type: http.request, url: "${upstream.url}/vk", body: { json: "{{ in }}" } }
  - id: facebook
    source: { type: facebook.leads, key: ${KEY}, verify_token: fuzz-verify-token-123, app_secret: "\${FB_SECRET}", page_token: ${PAGE_TOKEN}, graph_url: "${upstream.url}" }
    actions: []
`,
    { env: { CRM_TOKEN: CONFIG.crmToken, FB_SECRET: CONFIG.fbSecret } },
  )
  db = new Database(hr.dbPath, { readonly: true })
}, 60_000)

afterAll(async () => {
  db?.close()
  await hr?.close()
  await upstream?.close()
})

// ---- what a request is made of ----

const SECRET_NAMES = ['password', 'token', 'api_key', 'Authorization', 'client-secret', 'X-Api-Key', 'passwd', 'accessToken', 'signature', 'cookie']
const PLAIN_NAMES = ['email', 'name', 'phone', 'first_name', 'comment', 'город', '__proto__', 'constructor', 'toString', '', 'payment', 'path', 'url', 'key_']
/** Text with many encoded forms, or that a careless scan backtracks over, repeated up to a few thousand times. */
const NASTY_PIECES = ['‹"\\&\'Ж', 'a', '\\u00', 'x://u@', '%', '&amp;', '@', '[', '"\\', ' ', 'Пароль', '\u{1F600}', '\u0000']

const fieldName = fc.oneof(fc.constantFrom(...SECRET_NAMES, ...PLAIN_NAMES), fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 8 }))
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.tuple(fc.constantFrom(...NASTY_PIECES), fc.integer({ min: 1, max: 2000 })).map(([piece, n]) => piece.repeat(n)),
)
const leaf = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null))
const { tree } = fc.letrec<{ tree: unknown; list: unknown[]; object: Record<string, unknown> }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('list'), tie('object')),
  list: fc.array(tie('tree'), { maxLength: 5 }),
  object: fc.dictionary(fieldName, tie('tree'), { maxKeys: 6 }),
}))
const manyFields = fc.array(fc.tuple(fieldName, text), { maxLength: 150 }).map((fields) => Object.fromEntries(fields))
/** Many secret-named fields, each long and full of characters with many encoded forms: what once taught a run a regular expression too big to compile. */
const escapes = fc.tuple(fc.constantFrom('‹"\\&\'Ж', '"\\', 'Пароль', '<&>', '\u00e9\u{1F600}'), fc.integer({ min: 50, max: 300 }), fc.nat()).map(([piece, n, salt]) => `${salt}:${piece.repeat(n)}`)
const secretFields = fc
  .tuple(fc.array(fc.tuple(fc.constantFrom(...SECRET_NAMES), escapes), { minLength: 20, maxLength: 120 }))
  .map(([fields]) => Object.fromEntries(fields.map(([name, value], i) => [`${name}${i}`, value])))
const jsonObject = fc.oneof(fc.dictionary(fieldName, tree, { maxKeys: 12 }), manyFields, secretFields)
const pairs = fc.oneof(
  fc.array(fc.tuple(fc.oneof(fieldName, bracketKey()), text), { maxLength: 200 }),
  secretFields.map((fields) => Object.entries(fields) as Array<[string, string]>),
)

/** Tilda's cart names: `payment[products][0][name]`, up to far deeper than any cart. */
function bracketKey(): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.constantFrom('a', '0', 'products', 'name', 'password', ''), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 3000 })).map(
    ([segments, repeat]) => `payment${segments.map((s) => `[${s}]`).join('').repeat(Math.ceil(repeat / segments.length))}`,
  )
}

interface Sent {
  pipeline: Pipeline
  method: string
  query: string
  headers: Record<string, string>
  body: Buffer | undefined
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.api+json']
const FORM = 'application/x-www-form-urlencoded'

/**
 * A JSON body with IN_BODY under a secret name somewhere in it (top level or nested), first: a
 * run learns the values it meets first within its budget, and an upstream here echoes what it
 * got as a JSON string, where only a learned value can be found (past the budget, secret values
 * are hidden where they sit, under their names, only).
 */
const jsonRequest = fc.oneof(
  fc.tuple(jsonObject, fc.constantFrom(...SECRET_NAMES), fc.boolean(), fc.constantFrom(...JSON_TYPES)).map(([object, name, nested, type]): Omit<Sent, 'pipeline'> => {
    const withSecret = nested ? { contact: { list: [{ [name]: IN_BODY }] }, ...object } : { [name]: IN_BODY, ...object }
    return { method: 'POST', query: '', headers: { 'content-type': type }, body: Buffer.from(JSON.stringify(withSecret)) }
  }),
  // Nested deeper than any bound (written as text: a value so deep is more than JSON.stringify can walk).
  fc.tuple(fc.integer({ min: 60, max: 30_000 }), fc.constantFrom(...SECRET_NAMES)).map(([depth, name]): Omit<Sent, 'pipeline'> => {
    const body = `{${JSON.stringify(name)}:${JSON.stringify(IN_BODY)},"a":${'['.repeat(depth)}{"token":"x"}${']'.repeat(depth)}}`
    return { method: 'POST', query: '', headers: { 'content-type': 'application/json' }, body: Buffer.from(body) }
  }),
)
/** A form body with IN_BODY under a secret name, first. */
const formRequest = fc.tuple(pairs, fc.constantFrom(...SECRET_NAMES)).map(([fields, name]): Omit<Sent, 'pipeline'> => {
  const form = new URLSearchParams([[name, IN_BODY], ...fields.filter(([key]) => key !== name)])
  return { method: 'POST', query: '', headers: { 'content-type': FORM }, body: Buffer.from(form.toString()) }
})
/** A query string (kept small: a request line over 16 KB is the HTTP parser's, tested elsewhere), IN_BODY under a secret name. */
const queryRequest = fc.tuple(fc.array(fc.tuple(fieldName, fc.string({ unit: 'grapheme', maxLength: 60 })), { maxLength: 30 }), fc.constantFrom(...SECRET_NAMES)).map(
  ([fields, name]): Omit<Sent, 'pipeline'> => {
    const query = new URLSearchParams([[name, IN_BODY], ...fields.filter(([key]) => key !== name)])
    return { method: 'GET', query: query.toString(), headers: {}, body: undefined }
  },
)
/** Plain text, or bytes that are mostly not UTF-8, under any content type: no secret in these (nothing names one). */
const rawRequest = fc
  .tuple(fc.oneof(text.map((t) => Buffer.from(t)), fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b))), fc.constantFrom(...JSON_TYPES, FORM, 'text/plain', 'application/xml'))
  .map(([body, type]): Omit<Sent, 'pipeline'> => ({ method: 'POST', query: '', headers: { 'content-type': type }, body }))
/** Caller data that a careless scan of URLs backtracks over or learns without end: long words before an `@`, many `scheme://user@`. */
const urlValues = fc
  .record({
    email: fc.tuple(fc.integer({ min: 1000, max: 200_000 }), fc.constantFrom('a', 'Ab1', 'x.y-')).map(([n, piece]) => `${piece.repeat(Math.ceil(n / piece.length))}@example.com`),
    path: fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom('x://u', 'http://user:pw', 'a1+b://key')).map(([n, scheme]) => Array.from({ length: n }, (_, i) => `${scheme}${i}longusername@`).join('')),
    token: fc.oneof(escapes, text),
    name: text,
  })
  .map((fields): Omit<Sent, 'pipeline'> => ({ method: 'POST', query: '', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ password: IN_BODY, ...fields })) }))

/** A VK lead whose answers are keyed by anything, one of them by a secret name holding IN_BODY. */
const vkLead = fc.tuple(fc.array(fc.tuple(fieldName, text), { maxLength: 40 }), fc.constantFrom(...SECRET_NAMES), fc.uuid()).map(([answers, name, event]): Omit<Sent, 'pipeline'> => {
  const lead = {
    type: 'lead_forms_new',
    event_id: event,
    group_id: 1,
    object: { lead_id: 7, group_id: 1, user_id: 2, form_id: 3, answers: [{ key: name, answer: IN_BODY }, ...answers.map(([key, answer]) => ({ key, answer }))] },
  }
  return { method: 'POST', query: '', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(lead)) }
})

/** A Facebook delivery of leadgen changes with anything in them; each change is a run that reads its lead from Graph (the echo). */
const facebookDelivery = fc.array(fc.record({ leadgen_id: fc.oneof(text, fc.nat()), form_id: fc.oneof(text, fc.nat()), page_id: fc.nat() }), { minLength: 1, maxLength: 4 }).map(
  (changes): Omit<Sent, 'pipeline'> => {
    const delivery = { object: 'page', entry: [{ id: '1', time: 1, changes: changes.map((value) => ({ field: 'leadgen', value })) }] }
    return { method: 'POST', query: '', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(delivery)) }
  },
)

/** Every request carries a credential; one to Facebook is signed as Meta signs (else it is refused before anything runs). */
const request = (pipelines: readonly Pipeline[], shapes: fc.Arbitrary<Omit<Sent, 'pipeline'>>) =>
  fc.tuple(fc.constantFrom(...pipelines), shapes).map(([pipeline, shape]): Sent => {
    const headers: Record<string, string> = { ...shape.headers, authorization: `Bearer ${BEARER}` }
    if (pipeline === 'facebook' && shape.body) headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', CONFIG.fbSecret).update(shape.body).digest('hex')}`
    return { ...shape, pipeline, headers }
  })

// ---- what every answer must satisfy ----

/** How many log lines were looked at already. */
let logsRead = 0

async function check(sent: Sent): Promise<void> {
  const url = `${hr.url}/hooks/${sent.pipeline}/${KEY}${sent.query ? `?${sent.query}` : ''}`
  const res = await fetch(url, { method: sent.method, headers: sent.headers, body: sent.body, signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) })
  const answer = await res.text()
  // Never hookrelay's own fault; a 502 says the upstream refused what it was sent (a URL too long for it).
  if (res.status !== 502) expect(res.status, answer).toBeLessThan(500)
  const runId = res.headers.get('x-hookrelay-run')
  expect(runId, `no run for ${res.status} ${answer.slice(0, 200)}`).toBeTruthy()
  // A run answered on receipt (Tilda, VK, Facebook) goes on after its answer: its end is waited for (boundedly).
  let view = await hr.journal(`/${runId}`)
  for (let i = 0; i < 400 && view.status === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 25))
    view = await hr.journal(`/${runId}`)
  }
  expect(view.status).not.toBe('running')
  expect(fragmentsIn({ answer: JSON.stringify([res.status, res.statusText, [...res.headers], answer]), journal: JSON.stringify(view) }, SECRETS)).toEqual([])
  // Kept as it came (the bytes, as base64 when they are not UTF-8), but a body over the limit;
  // a run of a delivery of several events keeps the delivery with its own event only.
  const kept = JSON.parse(db.prepare('SELECT request FROM runs WHERE id = ?').pluck().get(runId) as string) as { raw: string; encoding?: string; delivery?: { part: number } }
  const body = sent.body ?? Buffer.alloc(0)
  const changes = (delivery: string) => (JSON.parse(delivery) as { entry: Array<{ changes: unknown[] }> }).entry.flatMap((e) => e.changes)
  if (kept.delivery) expect(changes(kept.raw)).toEqual([changes(body.toString())[kept.delivery.part]])
  else if (res.status !== 413) expect(Buffer.from(kept.raw, kept.encoding === 'base64' ? 'base64' : 'utf8').equals(body)).toBe(true)
  const health = await fetch(`${hr.url}/healthz`, { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) })
  expect(health.status).toBe(200)
  // What the server logged since the last request.
  expect(fragmentsIn({ log: hr.logs.slice(logsRead).join('\n') }, SECRETS)).toEqual([])
  logsRead = hr.logs.length
}

const options = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true }

describe('hostile input, generated', () => {
  it('JSON bodies to every source', { timeout: 600_000 }, async () => {
    await fc.assert(fc.asyncProperty(request(PIPELINES, jsonRequest), check), options)
  })

  it('form bodies to every source', { timeout: 600_000 }, async () => {
    await fc.assert(fc.asyncProperty(request(PIPELINES, formRequest), check), options)
  })

  it('query strings to every source', { timeout: 600_000 }, async () => {
    await fc.assert(fc.asyncProperty(request(PIPELINES, queryRequest), check), options)
  })

  it('text and bytes that are not UTF-8, under every content type', { timeout: 600_000 }, async () => {
    await fc.assert(fc.asyncProperty(request(PIPELINES, rawRequest), check), options)
  })

  it('caller data rendered into URLs', { timeout: 600_000 }, async () => {
    await fc.assert(fc.asyncProperty(request(['crm', 'link', 'query-token'], urlValues), check), options)
  })

  it('VK leads with answers keyed by anything', { timeout: 600_000 }, async () => {
    await fc.assert(fc.asyncProperty(request(['vk'], vkLead), check), options)
  })

  it('Facebook deliveries of leads with anything in them, signed', { timeout: 600_000 }, async () => {
    await fc.assert(fc.asyncProperty(request(['facebook'], facebookDelivery), check), options)
  })
})
