/**
 * The configuration's one JSON Schema: ajv validates with it and the TypeScript types come
 * from it. Action schemas come from the action registry, joined by a `type` discriminator so
 * that a bad action is reported against its own type's keys.
 */
import { Type, type Static, type TUnion } from '@sinclair/typebox'
import { ACTIONS } from '../actions/index.js'
import { Duration, Enum, HTTP_METHODS, Obj } from './schema-kit.js'

export const DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  bodyLimit: 1024 * 1024,
  journalPath: './data/hookrelay.db',
  retentionDays: 30,
  shutdownGraceMs: 10_000,
  requestTimeoutMs: 30_000,
  minIntervalMs: 300_000,
} as const

export const SOURCE_TYPES = ['http', 'getcourse.user', 'getcourse.order'] as const

const Server = Obj(
  {
    host: Type.Optional(Type.String({ minLength: 1, description: `Address to listen on; default ${DEFAULTS.host}.` })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: `Port; default ${DEFAULTS.port}.` })),
    public_url: Type.Optional(
      Type.String({ pattern: '^https?://[^\\s/]+(/[^\\s]*)?$', hint: 'an http(s) URL such as https://hooks.example.ru', description: 'Base URL printed by `hookrelay urls`.' }),
    ),
    body_limit: Type.Optional(Type.Integer({ minimum: 1, description: `Largest request body in bytes; default ${DEFAULTS.bodyLimit}.` })),
    shutdown_grace: Type.Optional(Duration),
    request_timeout: Type.Optional(Duration),
    trust_proxy: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed; default none.',
      }),
    ),
  },
  'The HTTP server.',
)

const Journal = Obj(
  {
    path: Type.Optional(Type.String({ minLength: 1, description: `SQLite file, created with its folder; default ${DEFAULTS.journalPath}.` })),
    retention_days: Type.Optional(Type.Integer({ minimum: 1, description: `Runs older than this are pruned; default ${DEFAULTS.retentionDays}.` })),
    token: Type.Optional(Type.String({ description: 'Bearer token for GET /journal; the journal API is off without it.' })),
  },
  'The run journal.',
)

const Email = Obj(
  {
    smtp: Type.String({ pattern: '^smtps?://', hint: 'a nodemailer connection URL such as smtp://user:pass@smtp.example.ru:587', description: 'SMTP connection URL.' }),
    from: Type.String({ minLength: 3, description: 'Sender address.' }),
    to: Type.Array(Type.String({ minLength: 3 }), { minItems: 1, description: 'Operator addresses.' }),
    min_interval: Type.Optional(Duration),
  },
  'Failure letters to the operator.',
)

const Notify = Obj({ email: Type.Optional(Email) }, 'Where failures are reported.')

const Answer = Obj(
  {
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: 'HTTP status; default 200 (500 for on_error).' })),
    status_text: Type.Optional(Type.String({ pattern: '^[^\\r\\n]*$', hint: 'one line of text', description: 'The status line text, e.g. OK.' })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Response headers (templates).' })),
    body: Type.Optional(Type.String({ description: 'Response body (a template, rendered after the actions).' })),
  },
  'What the caller gets.',
)

const Source = Obj(
  {
    type: Enum(SOURCE_TYPES, 'http, or a GetCourse preset (GET and POST, a ready URL from `hookrelay urls`).'),
    key: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9._~-]+$', hint: 'letters, digits and . _ ~ -', description: 'Secret URL segment: /hooks/<id>/<key>.' }),
    ),
    methods: Type.Optional(
      Type.Array(Enum(HTTP_METHODS, 'An HTTP method.'), { minItems: 1, uniqueItems: true, description: 'Accepted methods (http only); default any.' }),
    ),
    respond: Type.Optional(Enum(['after_actions', 'on_receipt'], 'after_actions (default): answer when the actions are done; on_receipt: as soon as the request is kept.')),
    response: Type.Optional(Answer),
    on_error: Type.Optional(Answer),
    dedupe: Type.Optional(
      Type.String({ minLength: 1, description: 'A template giving each request a key; a request whose key was kept within dedupe_window runs nothing (status duplicate) and gets the first answer.' }),
    ),
    dedupe_window: Type.Optional(Duration),
  },
  'Where requests come from and what they are answered.',
)

const actionUnion: TUnion<(typeof ACTIONS)[number]['schema'][]> = Type.Union(ACTIONS.map((a) => a.schema))

/** The action union as ajv sees it: a oneOf with a discriminator on `type`. */
const Action = Type.Unsafe<Static<typeof actionUnion>>({
  type: 'object',
  discriminator: { propertyName: 'type' },
  oneOf: ACTIONS.map((a) => a.schema),
})

const Pipeline = Obj(
  {
    id: Type.String({ pattern: '^[a-z0-9-]+$', maxLength: 64, hint: 'lower-case letters, digits and -', description: 'Names the URL and the journal rows.' }),
    name: Type.Optional(Type.String({ description: 'A human name for letters and listings.' })),
    enabled: Type.Optional(Type.Boolean({ description: 'When false: 503 "pipeline stopped", the request kept as skipped.' })),
    notify: Type.Optional(Type.Boolean({ description: "When false, this pipeline's failures send no letter." })),
    source: Source,
    actions: Type.Array(Action, { description: 'Run in order; [] only journals and answers.' }),
  },
  'One webhook URL and what runs when it is called.',
)

export const ConfigSchema = Obj(
  {
    server: Type.Optional(Server),
    journal: Type.Optional(Journal),
    notify: Type.Optional(Notify),
    pipelines: Type.Array(Pipeline, { description: 'The pipelines.' }),
  },
  'hookrelay configuration.',
)

export type Config = Static<typeof ConfigSchema>
export type PipelineConfig = Static<typeof Pipeline>
export type SourceConfig = Static<typeof Source>
export type AnswerConfig = Static<typeof Answer>
export type ActionConfig = Static<typeof actionUnion>
export type SourceType = (typeof SOURCE_TYPES)[number]
