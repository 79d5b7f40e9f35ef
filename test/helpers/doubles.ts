/**
 * Test doubles of Bizon365, DiMaker and the GetCourse import API: real HTTP servers on
 * 127.0.0.1:0 answering as ../shared/apis/API-FACTS.md describes (success and error forms).
 * Where the facts are unverified, the double answers in the plausible form the facts name.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { json, startStub, type Received, type Stub } from './stub.js'

/** Body fields of a form or JSON request, merged over its query string. */
export function params(req: Received): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(req.query)
  const type = String(req.headers['content-type'] ?? '')
  if (type.startsWith('application/x-www-form-urlencoded')) Object.assign(out, Object.fromEntries(new URLSearchParams(req.body)))
  else if (type.startsWith('application/json') && req.body) Object.assign(out, JSON.parse(req.body) as Record<string, string>)
  return out
}

export const BIZON = { token: 'bizon-token-7f3a9c', pageId: '123456:my-webinar' }

/**
 * Bizon365: addSubscriber (X-Token, pageId and email required, `hash` on success) and
 * course/student/add (email and username required, `ok` on success).
 */
export function startBizon(token = BIZON.token): Promise<Stub> {
  return startStub((req, res) => {
    if (req.headers['x-token'] !== token) return json(res, 401, { message: 'Неверный токен доступа' })
    if (req.method === 'POST' && req.path === '/api/v1/course/student/add') {
      const p = params(req)
      if (!p['email'] || !p['username']) return json(res, 400, { message: 'Ошибка валидации', errors: [{ param: p['email'] ? 'username' : 'email', msg: 'Обязательное поле' }] })
      return json(res, 200, { useOldPassword: false, studentCreated: true, ok: true, details: 'Пользователю отправлено письмо' })
    }
    if (req.method !== 'POST' || req.path !== '/api/v1/webinars/subpages/addSubscriber') return json(res, 404, { message: 'Not found' })
    const p = params(req)
    const errors = []
    if (p['pageId'] !== BIZON.pageId) errors.push({ param: 'pageId', msg: 'Страница регистрации не найдена' })
    if (!p['email']?.includes('@')) errors.push({ param: 'email', msg: 'Некорректный email' })
    if (errors.length > 0) return json(res, 400, { message: 'Ошибка валидации', errors })
    const hash = randomUUID().replace(/-/g, '').slice(0, 24)
    return json(res, 200, {
      hash,
      url_default: `https://online.bizon365.ru/click/${hash}`,
      url_userdomain: `http://webinar.myschool.ru/click/${hash}`,
    })
  })
}

export const DIMAKER = { secure: '0b6c1f7e-1111-2222-3333-444455556666', docId: 'b75b01cf-c732-49c6-80a0-77dd051a8299' }

/** DiMaker /api/v1/create/: parameters in the query, a form or JSON; result=link answers the bare link. */
export function startDimaker(secure = DIMAKER.secure): Promise<Stub> {
  return startStub((req, res) => {
    if (req.path !== '/api/v1/create/') return json(res, 404, { status: 'error', error: 'Not found' })
    const p = params(req)
    if (p['secure'] !== secure) return json(res, 200, { status: 'error', error: 'Invalid secure token' })
    if (p['doc_id'] !== DIMAKER.docId) return json(res, 200, { status: 'error', error: 'Document not found' })
    const link = `https://dimaker.app/d/${randomUUID()}.pdf`
    if (p['result'] === 'link') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
      return void res.end(link)
    }
    return json(res, 200, { status: 'success', result: link })
  })
}

export const GETCOURSE = { key: 'gc-import-key-5d8e1b', userId: 189870964, forbiddenEmail: 'blocked@example.com' }

export interface GetcourseDouble extends Stub {
  /** The decoded `params` JSON of each request. */
  decoded: () => unknown[]
  /** When true, answers 200 with an empty body, as a plan without the import API does. */
  noApi: boolean
}

/** GetCourse import API /pl/api/users: action=add, key, params=base64(JSON). */
export async function startGetcourse(key = GETCOURSE.key): Promise<GetcourseDouble> {
  const double = { noApi: false } as GetcourseDouble
  const stub = await startStub((req, res) => {
    if (req.method !== 'POST' || req.path !== '/pl/api/users') {
      res.writeHead(404, { 'content-type': 'text/html' })
      return void res.end('Wrong subdomain')
    }
    if (double.noApi) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      return void res.end('')
    }
    const p = params(req)
    if (p['action'] !== 'add') return json(res, 200, { success: false, error: 'Пустой параметр action' })
    if (p['key'] !== key) return json(res, 200, { success: false, error: 'Неавторизованное обращение' })
    const decoded = JSON.parse(Buffer.from(p['params'] ?? '', 'base64').toString('utf8')) as { user?: { email?: string } }
    if (decoded.user?.email === GETCOURSE.forbiddenEmail) {
      return json(res, 200, { success: true, action: 'add', result: { success: false, error: true, error_message: 'Действие запрещено', user_id: null } })
    }
    // Flags arrive as true, "true" or 1 (API facts); the double answers with the string form.
    return json(res, 200, { success: 'true', action: 'add', result: { success: 1, user_id: GETCOURSE.userId, user_status: 'updated', error_message: '', error: false } })
  })
  return Object.assign(double, stub, {
    decoded: () => stub.requests.map((r) => JSON.parse(Buffer.from(params(r)['params'] ?? '', 'base64').toString('utf8')) as unknown),
  })
}

export interface GraphDouble extends Stub {
  /** The next this many calls answer 500 (a Graph API having a bad moment). */
  failNext: number
  /** The next this many calls answer 400 with Graph's temporary error code 2 (its status is not verified: decided on the body). */
  temporaryNext: number
  /** Ids whose reads are refused (a page the token may not read). */
  forbidden: Set<string>
  /** Leads by id, as Graph answers them; any other id is unknown (error 100). */
  leads: Map<string, Record<string, unknown>>
}

/**
 * A stand-in for Facebook's Graph API, built from test/fixtures/apis/facebook.graph-lead.json:
 * GET /<version>/<id>?fields=...&access_token=... for a lead, a form or a page; a wrong token
 * gets the OAuthException of the fixture.
 */
export async function startGraph(token: string, version = 'v25.0'): Promise<GraphDouble> {
  const fixture = JSON.parse(readFileSync('test/fixtures/apis/facebook.graph-lead.json', 'utf8')) as Record<string, any>
  const lead = fixture['lead'].response.body as Record<string, unknown>
  const form = fixture['form'].response.body as Record<string, unknown>
  const page = fixture['page'].response.body as Record<string, unknown>
  const double = { failNext: 0, temporaryNext: 0, forbidden: new Set<string>(), leads: new Map([[String(lead['id']), lead]]) } as GraphDouble
  const stub = await startStub((req, res) => {
    if (double.failNext > 0) {
      double.failNext--
      return json(res, 500, { error: { message: 'An unexpected error has occurred. Please retry your request later.', type: 'OAuthException', code: 2, fbtrace_id: 'Aretry' } })
    }
    if (double.temporaryNext > 0) {
      double.temporaryNext--
      return json(res, 400, { error: { message: 'Service temporarily unavailable', type: 'OAuthException', code: 2, fbtrace_id: 'Atemp' } })
    }
    if (req.query.get('access_token') !== token) return json(res, 400, fixture['error_example'].response.body)
    const [, v, id = ''] = req.path.split('/')
    if (double.forbidden.has(id)) return json(res, 400, { error: { message: '(#10) Requires pages_read_engagement permission', type: 'OAuthException', code: 10, fbtrace_id: 'Aperm' } })
    if (v !== version) return json(res, 400, { error: { message: `Unknown path components: /${v}`, type: 'OAuthException', code: 2500, fbtrace_id: 'Aversion' } })
    const node = double.leads.get(id) ?? (id === form['id'] ? form : id === page['id'] ? page : undefined)
    if (!node) return json(res, 400, { error: { message: `Unsupported get request. Object with ID '${id}' does not exist`, type: 'GraphMethodException', code: 100, error_subcode: 33, fbtrace_id: 'Amissing' } })
    const fields = (req.query.get('fields') ?? '').split(',')
    return json(res, 200, Object.fromEntries(Object.entries(node).filter(([k]) => fields.includes(k))))
  })
  return Object.assign(double, stub)
}

export interface VkAdsDouble extends Stub {
  /** The leads the cabinet holds, oldest first (as in test/fixtures/apis/mytarget.lead.json). */
  leads: Array<Record<string, unknown>>
  /** When set, every call answers this status with an error body. */
  failWith: number | undefined
}

/**
 * A stand-in for VK Ads' lead list, GET /api/v1/lead_ads/leads.json with a Bearer token,
 * limit/offset paging and `_created_at__gte`, in the shape of the third-party SDK's models.
 */
export async function startVkAds(token: string): Promise<VkAdsDouble> {
  const double = { leads: [], failWith: undefined } as unknown as VkAdsDouble
  const stub = await startStub((req, res) => {
    if (double.failWith !== undefined) return json(res, double.failWith, { error: { code: 'internal', message: 'Сервис временно недоступен' } })
    if (req.headers['authorization'] !== `Bearer ${token}`) return json(res, 401, { error: { code: 'invalid_token', message: 'Invalid token' } })
    if (req.path !== '/api/v1/lead_ads/leads.json') return json(res, 404, { error: { code: 'not_found' } })
    const since = req.query.get('_created_at__gte') ?? ''
    const offset = Number(req.query.get('offset') ?? 0)
    const limit = Number(req.query.get('limit') ?? 50)
    const found = double.leads.filter((l) => String(l['created_at']) >= since)
    return json(res, 200, { items: found.slice(offset, offset + limit), count: found.length })
  })
  return Object.assign(double, stub)
}
