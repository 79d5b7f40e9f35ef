/** `http.request`: any HTTP call (the seed's "HTTP-запрос. Отправка данных"). */
import { Type } from '@sinclair/typebox'
import { ScalarMap } from '../config/schema-kit.js'
import { hookrelayError } from '../errors.js'
import { originIsLiteral } from '../http/address-guard.js'
import { checkHeaderConfig, checkHeaderValues, hasHeader } from '../http/headers.js'
import { toText, type Template } from '../pipeline/template.js'
import { learnUserinfo } from '../secrets/learn.js'
import { callProperties, callUpstream, compileCallOptions, responseOutput } from './http-call.js'
import { actionSchema, defineAction, type BuildContext, type StepContext, type TemplateTree } from './types.js'

const Body = Type.Object(
  {
    json: Type.Optional(Type.Unknown({ description: 'Sent as JSON; a string that is one {{ expr }} keeps its type.' })),
    form: Type.Optional(ScalarMap('Sent as application/x-www-form-urlencoded.')),
    raw: Type.Optional(Type.String({ description: 'Sent as written (text/plain unless a header says otherwise).' })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1, hint: 'exactly one of json, form, raw' },
)

const schema = actionSchema(
  'http.request',
  {
    method: Type.Optional(Type.String({ pattern: '^[A-Za-z]+$', hint: 'an HTTP method such as GET or POST', description: 'Default: POST with a body, GET without.' })),
    url: Type.String({ description: 'Template of the http(s) URL.' }),
    query: Type.Optional(ScalarMap('Query parameters added to the URL.')),
    headers: Type.Optional(ScalarMap('Request headers.')),
    body: Type.Optional(Body),
    success: Type.Optional(Type.String({ description: 'Status patterns that count as success, e.g. "2**,409". Default "2**".' })),
    allow_private_network: Type.Optional(
      Type.Boolean({ description: 'Let a URL whose host comes from a template reach loopback, private and other special addresses.' }),
    ),
    ...callProperties,
  },
  'Sends an HTTP request and keeps the answer at steps.<id>.',
)

const CONTENT_TYPES = { json: 'application/json', form: 'application/x-www-form-urlencoded', raw: 'text/plain; charset=utf-8' } as const

type BodyKind = keyof typeof CONTENT_TYPES

export const httpRequest = defineAction({
  type: 'http.request',
  summary: 'Sends any HTTP request (method, query, headers, json/form/raw body) with a deadline and retries.',
  outputs: () => ['status', 'headers', 'body', 'json'],
  schema,
  create(params, build) {
    const url = compileUrl(params.url, build)
    const query = build.tree(params.query ?? {}, ['query'])
    const headers = compileHeaders(params.headers ?? {}, build)
    const bodyKind = params.body ? (Object.keys(params.body)[0] as BodyKind) : undefined
    const body = bodyKind ? build.tree(params.body?.[bodyKind], ['body', bodyKind]) : undefined
    const method = (params.method ?? (bodyKind ? 'POST' : 'GET')).toUpperCase()
    const options = compileCallOptions(params, build)
    // A host written in the config is trusted; one that comes from data is checked (SSRF).
    const guard = !originIsLiteral(params.url) && params.allow_private_network !== true

    return {
      async run(ctx) {
        const target = renderUrl(url, query, ctx)
        const sent = headers.renderStrings(ctx.scope)
        checkHeaderValues(sent)
        let rendered: { text: string; fields?: unknown } | undefined
        if (bodyKind && body) {
          rendered = renderBody(bodyKind, body, ctx)
          if (!hasHeader(sent, 'content-type')) sent['content-type'] = CONTENT_TYPES[bodyKind]
        }
        const call = { method, url: target, headers: sent, body: rendered?.text, fields: rendered?.fields, guard }
        const response = await callUpstream(build.http, call, options, ctx)
        return responseOutput(response)
      },
    }
  },
})

function compileUrl(source: string, build: BuildContext): Template {
  const url = build.template(source, ['url'])
  if (url.constant && !isHttpUrl(source)) build.problem(['url'], `'${source}' is not an http(s) URL`)
  return url
}

function compileHeaders(headers: Record<string, unknown>, build: BuildContext): TemplateTree {
  checkHeaderConfig(headers, ['headers'], build)
  return build.tree(headers, ['headers'])
}

function renderUrl(url: Template, query: TemplateTree, ctx: StepContext): URL {
  const text = url.render(ctx.scope)
  const target = URL.canParse(text) ? new URL(text) : undefined
  if (target?.protocol !== 'http:' && target?.protocol !== 'https:') {
    learnUserinfo(ctx.mask, text, 'sent') // before the message quotes it
    throw hookrelayError('HR_BAD_URL', [text])
  }
  for (const [name, value] of Object.entries(query.renderStrings(ctx.scope))) target.searchParams.append(name, value)
  return target // callUpstream learns its userinfo and secret-named query parameters
}

/** The body as text, and its fields for callUpstream to learn ({"password": ...} is masked wherever it turns up). */
function renderBody(kind: BodyKind, body: TemplateTree, ctx: StepContext): { text: string; fields?: unknown } {
  if (kind === 'json') {
    const value = body.evaluate(ctx.scope) ?? null
    return { text: JSON.stringify(value), fields: value }
  }
  if (kind === 'raw') return { text: toText(body.evaluate(ctx.scope)) }
  const fields = body.renderStrings(ctx.scope)
  return { text: new URLSearchParams(fields).toString(), fields }
}

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
