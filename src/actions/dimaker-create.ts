/** `dimaker.create`: creates a certificate or diploma in DiMaker and outputs the file's link. */
import { Type } from '@sinclair/typebox'
import { Enum, Scalar, ScalarMap } from '../config/schema-kit.js'
import { lookup, parsePath, type PathSegment } from '../pipeline/json-path.js'
import { parseJsonBody } from './http-call.js'
import { isHttpUrl } from './http-request.js'
import { callService, compileServiceOptions, excerpt, formFields, pick, serviceProperties, serviceUrl, type Reading, type Service } from './service-call.js'
import { actionSchema, defineAction } from './types.js'

const DEFAULT_BASE_URL = 'https://dimaker.app'
const PATH = '/api/v1/create/'

const schema = actionSchema(
  'dimaker.create',
  {
    secure: Type.String({ description: 'The API token («Токены API»); use ${DIMAKER_TOKEN}.' }),
    doc_id: Type.String({ description: 'The document (template) id.' }),
    folder_id: Type.Optional(Type.String({ description: 'The Drive folder for the file.' })),
    mail_id: Type.Optional(Type.String({ description: 'The letter template; without it no letter is sent.' })),
    email_send: Type.Optional(Enum(['onfinish', 'oncreate', 'timeout'], 'When DiMaker sends the letter.')),
    page_id: Type.Optional(Scalar),
    masks: Type.Optional(ScalarMap('Document variables: name -> mask_name, email -> mask_email, filename -> mask_filename.')),
    result: Type.Optional(Enum(['link', 'json'], 'link (default): DiMaker answers the link; json: it answers JSON carrying it.')),
    link_path: Type.Optional(
      Type.String({ description: 'Where a JSON answer carries the link (a json.parse path, e.g. data.file.url); by default result, link, url or file.' }),
    ),
    extra: Type.Optional(ScalarMap('Further parameters, e.g. email_timeout_value.')),
    ...serviceProperties(DEFAULT_BASE_URL),
  },
  'Creates a DiMaker file from a document and its variables.',
)

const MASK_NAME = /^[A-Za-z0-9_]+$/

export const dimakerCreate = defineAction({
  type: 'dimaker.create',
  summary: 'Creates a DiMaker certificate from a document and mask_* variables; outputs link.',
  outputs: () => ['link', 'json'],
  schema,
  create(params, build) {
    for (const name of Object.keys(params.masks ?? {})) {
      if (!MASK_NAME.test(name)) build.problem(['masks'], `mask '${name}' must be Latin letters, digits or _ (DiMaker variables are Latin)`, name)
    }
    const secure = build.template(params.secure, ['secure'])
    const fields = build.tree(pick(params, ['doc_id', 'folder_id', 'mail_id', 'email_send', 'page_id']), [])
    const masks = build.tree(params.masks ?? {}, ['masks'])
    const extra = build.tree(params.extra ?? {}, ['extra'])
    const options = compileServiceOptions(params, build)
    const url = serviceUrl(params.base_url ?? DEFAULT_BASE_URL, PATH)
    const result = params.result ?? 'link'
    let service = DIMAKER
    if (params.link_path !== undefined) {
      try {
        service = dimakerService([parsePath(params.link_path)])
      } catch (err) {
        build.problem(['link_path'], (err as Error).message)
      }
    }

    return {
      async run(ctx) {
        const token = secure.render(ctx.scope)
        ctx.mask.learn(token)
        const maskValues = Object.entries(masks.evaluate(ctx.scope) as Record<string, unknown>).map(([name, value]) => [`mask_${name}`, value])
        const form = formFields({
          secure: token,
          ...(fields.evaluate(ctx.scope) as Record<string, unknown>),
          ...Object.fromEntries(maskValues),
          ...(result === 'link' ? { result: 'link' } : {}),
          ...(extra.evaluate(ctx.scope) as Record<string, unknown>),
        })
        const headers = { 'content-type': 'application/x-www-form-urlencoded' }
        return callService(service, build.http, { method: 'POST', url, headers, body: new URLSearchParams(form).toString() }, options, ctx)
      },
    }
  },
})

/** Where a JSON answer may carry the link (DiMaker's answer format is not documented); `link_path` overrides. */
const LINK_PATHS: PathSegment[][] = [['result'], ['link'], ['url'], ['file']]

function dimakerService(linkPaths: PathSegment[][]): Service {
  return {
    name: 'DiMaker',
    read(response, mask): Reading {
      const text = response.body.trim()
      if (response.status < 300 && isHttpUrl(text)) return { output: { link: text, json: null } }
      const json = parseJsonBody(text) as Record<string, unknown> | null
      const link = json ? linkPaths.map((path) => lookup(json, path).value).find((v): v is string => typeof v === 'string' && isHttpUrl(v.trim())) : undefined
      if (response.status < 300 && link && json?.['status'] !== 'error') return { output: { link: link.trim(), json } }
      const message = json ? (json['error'] ?? json['message'] ?? json['status']) : undefined
      return { error: typeof message === 'string' && message !== '' ? message : `neither a link nor JSON carrying one: ${excerpt(text, mask)}` }
    },
  }
}

const DIMAKER = dimakerService(LINK_PATHS)
