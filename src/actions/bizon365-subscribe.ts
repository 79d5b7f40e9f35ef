/** `bizon365.subscribe`: registers a subscriber for a webinar session (Bizon365 addSubscriber). */
import { Type } from '@sinclair/typebox'
import { Scalar, ScalarMap } from '../config/schema-kit.js'
import type { Masker } from '../secrets/masker.js'
import { parseJsonBody } from './http-call.js'
import { callService, compileServiceOptions, excerpt, formFields, pick, serviceProperties, serviceUrl, type Reading, type Service } from './service-call.js'
import { actionSchema, defineAction } from './types.js'

const DEFAULT_BASE_URL = 'https://online.bizon365.ru'
const PATH = '/api/v1/webinars/subpages/addSubscriber'

const schema = actionSchema(
  'bizon365.subscribe',
  {
    token: Type.String({ description: 'The API token (sent as X-Token); use ${BIZON_TOKEN}.' }),
    page_id: Type.String({ description: 'The registration page id (pageId), e.g. 12345:my-webinar.' }),
    email: Type.String({ description: "The subscriber's e-mail." }),
    time: Type.Optional(Type.String({ description: 'The session time, ISO 8601: 2026-12-01T20:00:00.000+03:00.' })),
    phone: Type.Optional(Type.String()),
    username: Type.Optional(Type.String()),
    url_marker: Type.Optional(Type.String({ description: '«Маркер из URL», e.g. a partner id.' })),
    confirm: Type.Optional(Scalar),
    extra: Type.Optional(ScalarMap('Further addSubscriber parameters, e.g. utm_source.')),
    ...serviceProperties(DEFAULT_BASE_URL),
  },
  'Registers a subscriber for a Bizon365 webinar session.',
)

/** Bizon365's parameter names for our keys. */
const PARAMS = { page_id: 'pageId', email: 'email', time: 'time', phone: 'phone', username: 'username', url_marker: 'url_marker', confirm: 'confirm' } as const

export const bizon365Subscribe = defineAction({
  type: 'bizon365.subscribe',
  summary: 'Registers a subscriber for a Bizon365 webinar session (addSubscriber, X-Token); outputs hash and url.',
  outputs: () => ['hash', 'url', 'json'],
  schema,
  create(params, build) {
    const token = build.template(params.token, ['token'])
    const fields = build.tree(pick(params, Object.keys(PARAMS)), [])
    const extra = build.tree(params.extra ?? {}, ['extra'])
    const options = compileServiceOptions(params, build)
    const url = serviceUrl(params.base_url ?? DEFAULT_BASE_URL, PATH)

    return {
      async run(ctx) {
        const secret = token.render(ctx.scope)
        ctx.mask.learn(secret)
        const values = fields.evaluate(ctx.scope) as Record<string, unknown>
        const form = formFields({
          ...Object.fromEntries(Object.entries(values).map(([key, value]) => [PARAMS[key as keyof typeof PARAMS], value])),
          ...(extra.evaluate(ctx.scope) as Record<string, unknown>),
        })
        const headers = { 'X-Token': secret, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
        return callService(BIZON, build.http, { method: 'POST', url, headers, body: new URLSearchParams(form).toString() }, options, ctx)
      },
    }
  },
})

const BIZON: Service = {
  name: 'Bizon365',
  read(response, mask): Reading {
    const json = parseJsonBody(response.body) as Record<string, unknown> | null
    if (response.status < 300 && json && typeof json['hash'] === 'string' && json['hash'] !== '') {
      return { output: { hash: json['hash'], url: json['url_default'] ?? null, json } }
    }
    return { error: bizonMessage(json, response.body, mask) }
  },
}

/** Bizon365's own words: its `message` and each of its `errors`. */
function bizonMessage(json: Record<string, unknown> | null, body: string, mask: Masker): string {
  if (!json) return `an answer without a hash: ${excerpt(body, mask)}`
  const parts: string[] = []
  if (typeof json['message'] === 'string') parts.push(json['message'])
  const errors = Array.isArray(json['errors']) ? json['errors'] : []
  const details = errors.map((e) => {
    if (typeof e === 'string') return e
    const item = e as Record<string, unknown>
    const text = String(item['msg'] ?? item['message'] ?? JSON.stringify(item))
    return item['param'] ? `${String(item['param'])}: ${text}` : text
  })
  if (details.length > 0) parts.push(`(${details.join('; ')})`)
  return parts.length > 0 ? parts.join(' ') : `an answer without a hash: ${excerpt(body, mask)}`
}
