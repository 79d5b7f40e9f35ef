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
  timeZone: 'Europe/Moscow',
  logLevel: 'info',
} as const

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const

export const SOURCE_TYPES = ['http', 'getcourse.user', 'getcourse.order', 'tilda', 'vk', 'facebook.leads', 'vk_ads.leads'] as const

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
    log_level: Type.Optional(Enum(LOG_LEVELS, `The least a log line must matter to be written; default ${DEFAULTS.logLevel}, or LOG_LEVEL.`)),
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
    time_zone: Type.Optional(
      Type.String({ minLength: 1, hint: 'an IANA time zone such as Europe/Moscow or Asia/Yekaterinburg', description: `Times on the journal page; default ${DEFAULTS.timeZone}.` }),
    ),
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

/** What every webhook source has: its URL key, how it answers, and duplicate delivery. */
const webhookKeys = {
  key: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9._~-]+$', hint: 'letters, digits and . _ ~ -', description: 'Secret URL segment: /hooks/<id>/<key>.' }),
  ),
  respond: Type.Optional(Enum(['after_actions', 'on_receipt'], 'after_actions (default for http): answer when the actions are done; on_receipt: as soon as the request is kept.')),
  response: Type.Optional(Answer),
  on_error: Type.Optional(Answer),
  ...dedupeKeys(),
}

function dedupeKeys() {
  return {
    dedupe: Type.Optional(
      Type.String({ minLength: 1, description: 'A template giving each request a key; a request whose key was kept within dedupe_window runs nothing (status duplicate) and gets the first answer.' }),
    ),
    dedupe_window: Type.Optional(Duration),
  }
}

const Methods = Type.Optional(
  Type.Array(Enum(HTTP_METHODS, 'An HTTP method.'), { minItems: 1, uniqueItems: true, description: 'Accepted methods (http only); default any.' }),
)

const SecretString = (description: string) => Type.String({ minLength: 1, description })
const HttpUrl = (description: string) => Type.String({ pattern: '^https?://[^\\s]+$', hint: 'an http(s) URL', description })

/** One variant per source type; `type` picks which (ajv's discriminator), so each is checked with its own keys. */
const SOURCES = [
  Obj({ type: Type.Literal('http'), methods: Methods, ...webhookKeys }, 'Any HTTP request: JSON, form or text body and the query string.'),
  Obj({ type: Type.Literal('getcourse.user'), methods: Methods, ...webhookKeys }, 'GetCourse «Вызвать URL» for a user (GET and POST; `hookrelay urls` prints the URL).'),
  Obj({ type: Type.Literal('getcourse.order'), methods: Methods, ...webhookKeys }, 'GetCourse «Вызвать URL» for an order (GET and POST; `hookrelay urls` prints the URL).'),
  Obj({ type: Type.Literal('tilda'), ...webhookKeys }, 'A Tilda form webhook: answers test=test, answers ok as soon as a lead is kept.'),
  Obj(
    {
      type: Type.Literal('vk'),
      confirmation: SecretString('The confirmation code VK shows in «Управление → Работа с API → Callback API»; answered to VK as written.'),
      secret: Type.Optional(SecretString('The secret key set there; a request without it is refused with 403.')),
      ...webhookKeys,
    },
    'VK Callback API: lead forms (lead_forms_new) and any other event.',
  ),
  Obj(
    {
      type: Type.Literal('facebook.leads'),
      verify_token: SecretString('The verify token typed in the app\'s Webhooks settings.'),
      app_secret: SecretString('The app secret: X-Hub-Signature-256 is checked with it.'),
      page_token: SecretString('A long-lived Page access token: the lead, its form and its page are read with it.'),
      graph_url: Type.Optional(HttpUrl('The Graph API; default https://graph.facebook.com. For tests.')),
      api_version: Type.Optional(Type.String({ pattern: '^v\\d+\\.\\d+$', hint: 'a version such as v25.0', description: 'Graph API version; default v25.0.' })),
      timeout: Type.Optional(Duration),
      retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'Extra tries of a Graph call on a network error, 429 or 5xx; default 2.' })),
      ...webhookKeys,
    },
    'Facebook Lead Ads: the leadgen webhook, each lead read from the Graph API.',
  ),
  Obj(
    {
      type: Type.Literal('vk_ads.leads'),
      token: SecretString('A VK Ads (ads.vk.com) OAuth access token that may read lead forms.'),
      interval: Type.Optional(Duration),
      base_url: Type.Optional(HttpUrl('VK Ads; default https://ads.vk.com. For tests.')),
      timeout: Type.Optional(Duration),
      ...dedupeKeys(),
    },
    'VK Ads (myTarget) lead forms: no webhook, so hookrelay asks for new leads every interval.',
  ),
] as const

const sourceUnion = Type.Union([...SOURCES])

/** The source union as ajv sees it: a oneOf with a discriminator on `type`. */
const Source = Type.Unsafe<Static<typeof sourceUnion>>({
  type: 'object',
  description: 'Where requests come from and what they are answered.',
  discriminator: { propertyName: 'type' },
  oneOf: [...SOURCES],
})

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
export type SourceConfig = Static<typeof sourceUnion>
export type WebhookSourceConfig = Exclude<SourceConfig, { type: 'vk_ads.leads' }>
export type AnswerConfig = Static<typeof Answer>
export type ActionConfig = Static<typeof actionUnion>
export type SourceType = (typeof SOURCE_TYPES)[number]
