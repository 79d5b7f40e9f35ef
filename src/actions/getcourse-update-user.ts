/** `getcourse.update_user`: writes fields back into a GetCourse user through the import API. */
import { Type } from '@sinclair/typebox'
import { ScalarMap } from '../config/schema-kit.js'
import { parseJsonBody } from './http-call.js'
import { callService, compileServiceOptions, excerpt, serviceProperties, serviceUrl, type Reading, type Service } from './service-call.js'
import type { Masker } from '../secrets/masker.js'
import { actionSchema, defineAction } from './types.js'

const PATH = '/pl/api/users'

const User = Type.Object(
  {
    email: Type.String({ description: "The user's e-mail: GetCourse finds the user by it." }),
    phone: Type.Optional(Type.String()),
    first_name: Type.Optional(Type.String()),
    last_name: Type.Optional(Type.String()),
    city: Type.Optional(Type.String()),
    country: Type.Optional(Type.String()),
    group_name: Type.Optional(Type.Array(Type.String(), { description: 'Groups to add the user to.' })),
    addfields: Type.Optional(ScalarMap('Extra fields by their title in GetCourse, e.g. «Сертификат».')),
  },
  { additionalProperties: false, description: 'The user fields to write.' },
)

const schema = actionSchema(
  'getcourse.update_user',
  {
    account: Type.Optional(
      Type.String({ pattern: '^[a-z0-9-]+$', hint: 'the account name: myschool for myschool.getcourse.ru', description: 'myschool for https://myschool.getcourse.ru; base_url, when given, wins (custom domains).' }),
    ),
    key: Type.String({ description: 'The import API key; use ${GETCOURSE_KEY}.' }),
    user: User,
    session: Type.Optional(ScalarMap('session: utm_source ... utm_group, referer.')),
    system: Type.Optional(ScalarMap('system options; refresh_if_exists is 1 unless set.')),
    ...serviceProperties('https://<account>.getcourse.ru'),
  },
  "Writes fields back into a GetCourse user (import API, action=add with refresh_if_exists).",
)

export const getcourseUpdateUser = defineAction({
  type: 'getcourse.update_user',
  summary: 'Writes fields back into a GetCourse user through the import API (action=add, refresh_if_exists); outputs user_id.',
  outputs: () => ['user_id', 'json'],
  schema,
  create(params, build) {
    if (params.account === undefined && params.base_url === undefined) build.problem([], 'give account (myschool for myschool.getcourse.ru) or base_url')
    const key = build.template(params.key, ['key'])
    const user = build.tree(params.user, ['user'])
    const session = build.tree(params.session ?? {}, ['session'])
    const system = build.tree({ refresh_if_exists: 1, ...params.system }, ['system'])
    const options = compileServiceOptions(params, build)
    const url = serviceUrl(params.base_url ?? `https://${params.account ?? 'account'}.getcourse.ru`, PATH)

    return {
      async run(ctx) {
        const secret = key.render(ctx.scope)
        ctx.mask.learn(secret)
        const payload: Record<string, unknown> = { user: withoutEmpty(user.evaluate(ctx.scope)), system: system.evaluate(ctx.scope) }
        const utm = withoutEmpty(session.evaluate(ctx.scope))
        if (Object.keys(utm).length > 0) payload['session'] = utm
        const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
        const body = importForm(secret, payload)
        // The journal's copy is encoded from the masked payload: a password in addfields is hidden inside the base64 too.
        const encodedBody = (mask: Masker) => importForm(secret, mask.value(payload))
        return callService(GETCOURSE, build.http, { method: 'POST', url, headers, body, note: { params: payload }, fields: payload, encodedBody }, options, ctx)
      },
    }
  },
})

/** The import API's form: action=add, the key, and `params`, the JSON of the payload in base64. */
function importForm(key: string, payload: unknown): string {
  return new URLSearchParams({ action: 'add', key, params: Buffer.from(JSON.stringify(payload), 'utf8').toString('base64') }).toString()
}

/** GetCourse writes flags as true, "true" or 1. */
function flag(value: unknown): boolean {
  return value === true || value === 1 || value === 'true' || value === '1'
}

/** Leaves out fields that rendered empty, so an empty placeholder never blanks a user's field. */
function withoutEmpty(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === '' || v === null || v === undefined) continue
    out[k] = typeof v === 'object' && !Array.isArray(v) ? withoutEmpty(v) : v
  }
  return out
}

const GETCOURSE: Service = {
  name: 'GetCourse',
  read(response, mask): Reading {
    if (response.body.trim() === '') {
      return { error: "an empty body: the account's plan has no import API, or the request was redirected (check account/base_url)" }
    }
    const json = parseJsonBody(response.body) as Record<string, unknown> | null
    if (!json) return { error: `an answer that is not JSON: ${excerpt(response.body, mask)}` }
    const result = (json['result'] ?? {}) as Record<string, unknown>
    if (response.status < 300 && flag(json['success']) && flag(result['success']) && !flag(result['error'])) {
      return { output: { user_id: result['user_id'] ?? null, json } }
    }
    const message = [result['error_message'], json['error_message'], json['error']].find((m) => typeof m === 'string' && m !== '')
    return { error: (message as string | undefined) ?? `the import was refused without a message: ${excerpt(response.body, mask)}` }
  },
}
