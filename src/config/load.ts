/**
 * Loading a config file: YAML with line numbers, `${ENV}` substitution, schema validation,
 * cross-checks and compilation. Any problem throws a ConfigError listing all of them; the
 * server never starts on an invalid file.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import ipaddr from 'ipaddr.js'
import { LineCounter, parseDocument } from 'yaml'
import { ACTION_TYPES } from '../actions/index.js'
import type { PathKey } from '../actions/types.js'
import type { HttpClient } from '../http/client.js'
import { Mailer } from '../notify/mailer.js'
import { compilePipelines, type CompiledPipeline } from '../pipeline/compile.js'
import { TemplateEngine } from '../pipeline/template.js'
import { credentialParts, learnUserinfo } from '../secrets/learn.js'
import { Masker } from '../secrets/masker.js'
import { isSecretName } from '../secrets/names.js'
import { sourceKey } from '../sources/source.js'
import { parseDuration } from './duration.js'
import { substituteEnv, typeWholeValues } from './env.js'
import { describeYamlErrors } from './yaml-errors.js'
import { ConfigError, formatPath, locateProblems, schemaProblems, type Problem } from './problems.js'
import { DEFAULTS, LOG_LEVELS, type Config } from './schema.js'
import { validateConfig } from './validator.js'

/** Config values with defaults applied, ready for the server. */
export interface Settings {
  host: string
  port: number
  publicUrl: string | undefined
  bodyLimit: number
  journalPath: string
  retentionDays: number
  journalToken: string | undefined
  shutdownGraceMs: number
  /** The whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number
  /** Proxies whose X-Forwarded-For is believed; empty: none (the peer address is the client). */
  trustProxy: string[]
  /** At most one failure letter per pipeline per this interval. */
  minIntervalMs: number
  /** The journal page's times. */
  timeZone: string
  /** server.log_level, else LOG_LEVEL, else info. */
  logLevel: string
}

export interface LoadedConfig {
  /** The file as named in messages (as the operator gave it). */
  file: string
  config: Config
  settings: Settings
  pipelines: CompiledPipeline[]
  /** Things that work but deserve a look, e.g. a pipeline without a key. */
  warnings: string[]
  /** Knows every secret the config holds: URL keys, tokens, `${ENV}` values, URL userinfo. */
  masker: Masker
  /** Sends letters through notify.email.smtp, when configured; close it on shutdown. */
  mailer: Mailer | undefined
  /** Where the config still holds the example's demo values (keys, token), located; `serve` refuses them off loopback. */
  demoValues: string[]
  /** Those of them that are pipelines' URL keys (what a reload changes). */
  demoKeys: string[]
}

export interface LoadOptions {
  path: string
  env?: NodeJS.ProcessEnv
  http: HttpClient
  /**
   * A reload: `email.send` steps use the running mailer, not one built from the file's
   * notify.email (which, like every setting outside pipelines, takes a restart to change).
   */
  mailer?: { use: Mailer | undefined }
}

export function loadConfig(options: LoadOptions): LoadedConfig {
  const file = options.path // named in messages as the operator gave it
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const reason =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'this is a folder, not a file (Docker makes a folder when the file it should mount does not exist: create the file, then mount it)'
          : code === 'EACCES'
            ? `no permission to read it (make it readable by the user hookrelay runs as)`
            : (err as Error).message
    throw new ConfigError([`${file}: ${reason}`])
  }
  return loadConfigText(text, file, options)
}

/** Loads from text; `file` is only used in messages. */
export function loadConfigText(text: string, file: string, options: Omit<LoadOptions, 'path'>): LoadedConfig {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false })
  if (doc.errors.length > 0) throw new ConfigError([describeYamlErrors(doc.errors, text, lines, file)])
  const env = substituteEnv(doc, options.env ?? process.env)
  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {}
  // Known before anything is checked, so that no message about the file can show a secret.
  const masker = configSecrets(data, env.secrets)
  const fail = (problems: Problem[]): never => {
    throw new ConfigError(locateProblems(problems, file, doc, lines, data).map((p) => masker.text(p.text)))
  }

  const problems: Problem[] = [...env.problems]
  const valid = validateConfig(data) || (typeWholeValues(validateConfig.errors ?? [], data, env.wholeValues) && validateConfig(data))
  if (!valid) {
    // A value whose variable is missing is reported once, as missing, not again as malformed.
    const envPaths = new Set(env.problems.map((p) => formatPath(p.path)))
    problems.push(...schemaProblems(validateConfig.errors ?? [], data, ACTION_TYPES).filter((p) => !envPaths.has(formatPath(p.path))))
  }
  const config = data as Config
  if (!problems.some((p) => p.path[0] === 'server')) problems.push(...valueProblems(config))

  // Pipelines that passed the schema are compiled even when others did not, so that every
  // problem (templates, duplicate ids, cross-checks) is reported in one go.
  const pipelinesUsable = Array.isArray(config.pipelines) && !problems.some((p) => p.path[0] === 'pipelines' && p.path.length < 2)
  if (pipelinesUsable) {
    const email = problems.some((p) => p.path[0] === 'notify') ? undefined : config.notify?.email
    const built = options.mailer || !email ? undefined : new Mailer(email.smtp, email.from)
    const mailer = options.mailer ? options.mailer.use : built
    const compiled = compilePipelines(config, { engine: new TemplateEngine(env.literals), http: options.http, mailer }, problems)
    problems.push(...compiled.problems)
    if (problems.length === 0) return finish(compiled.pipelines, mailer)
    built?.close()
  }
  return fail(problems)

  function finish(pipelines: CompiledPipeline[], mailer: Mailer | undefined): LoadedConfig {
    const warnings = locateProblems(configWarnings(config), file, doc, lines, data).map((p) => masker.text(p.text))
    const demo = demoValueProblems(config)
    const locate = (found: Problem[]) => locateProblems(found, file, doc, lines, data).map((p) => masker.text(p.text))
    const demoValues = locate(demo)
    const demoKeys = locate(demo.filter((p) => p.path[0] === 'pipelines'))
    return { file, config, settings: settingsOf(config, options.env ?? process.env), pipelines, warnings, masker, mailer, demoValues, demoKeys }
  }
}

/** LOG_LEVEL when it names a level (else the default: a typo must not silence the log). */
function logLevelFrom(value: string | undefined): string {
  const level = value?.trim().toLowerCase()
  return level && (LOG_LEVELS as readonly string[]).includes(level) ? level : DEFAULTS.logLevel
}

function settingsOf(config: Config, env: NodeJS.ProcessEnv): Settings {
  return {
    host: config.server?.host ?? DEFAULTS.host,
    port: config.server?.port ?? DEFAULTS.port,
    publicUrl: config.server?.public_url?.replace(/\/+$/, ''),
    bodyLimit: config.server?.body_limit ?? DEFAULTS.bodyLimit,
    journalPath: resolve(config.journal?.path ?? DEFAULTS.journalPath),
    retentionDays: config.journal?.retention_days ?? DEFAULTS.retentionDays,
    journalToken: config.journal?.token || undefined,
    shutdownGraceMs: durationOr(config.server?.shutdown_grace, DEFAULTS.shutdownGraceMs),
    requestTimeoutMs: durationOr(config.server?.request_timeout, DEFAULTS.requestTimeoutMs),
    trustProxy: config.server?.trust_proxy ?? [],
    minIntervalMs: durationOr(config.notify?.email?.min_interval, DEFAULTS.minIntervalMs),
    timeZone: config.journal?.time_zone ?? DEFAULTS.timeZone,
    logLevel: config.server?.log_level ?? logLevelFrom(env['LOG_LEVEL']),
  }
}

function durationOr(value: string | number | undefined, fallback: number): number {
  return value === undefined ? fallback : (parseDuration(value) ?? fallback)
}

const MIN_KEY_LENGTH = 12
const MIN_TOKEN_LENGTH = 16

/** Checks that need the values themselves: proxy addresses parse. */
function valueProblems(config: Config): Problem[] {
  const problems: Problem[] = (config.server?.trust_proxy ?? []).flatMap((entry, i) =>
    ipaddr.isValid(entry) || ipaddr.isValidCIDR(entry)
      ? []
      : [{ path: ['server', 'trust_proxy', i], message: `'${entry}' is not an IP address or CIDR (e.g. 10.0.0.1 or 172.16.0.0/12)` }],
  )
  const zone = config.journal?.time_zone
  if (zone !== undefined && !isTimeZone(zone)) {
    problems.push({ path: ['journal', 'time_zone'], message: `'${zone}' is not a time zone this system knows; use an IANA name such as Europe/Moscow, Europe/Kaliningrad or Asia/Yekaterinburg` })
  }
  return problems
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** The example config's demo values end so; anyone who has read the example knows them. */
const DEMO_VALUE = /change-me/i

/** Keys and the journal token still holding the example's demo values. */
function demoValueProblems(config: Config): Problem[] {
  const found: Problem[] = []
  const demo = 'the example\'s demo value, known to anyone who has read the example: set your own (openssl rand -hex 16)'
  config.pipelines.forEach((p, i) => {
    const key = sourceKey(p.source)
    if (key !== undefined && DEMO_VALUE.test(key)) found.push({ path: ['pipelines', i, 'source', 'key'], message: demo })
  })
  if (config.journal?.token && DEMO_VALUE.test(config.journal.token)) found.push({ path: ['journal', 'token'], message: `${demo}, e.g. in JOURNAL_TOKEN` })
  return found
}

function configWarnings(config: Config): Problem[] {
  const warnings: Problem[] = demoValueProblems(config).map((p) => ({ ...p, message: `warning: ${p.message}` }))
  config.pipelines.forEach((p, i) => {
    if (p.source.type === 'vk_ads.leads') return // no URL to guess
    const key = sourceKey(p.source)
    if (key === undefined) {
      warnings.push({ path: ['pipelines', i, 'source'], message: 'warning: no key, so anyone who guesses the id can trigger this pipeline' })
    } else if (key.length < MIN_KEY_LENGTH) {
      warnings.push({ path: ['pipelines', i, 'source', 'key'], message: `warning: the key is short; use at least ${MIN_KEY_LENGTH} random characters` })
    }
  })
  const token = config.journal?.token
  if (token === '') warnings.push({ path: ['journal', 'token'], message: 'warning: the token is empty, so the journal API is off; set JOURNAL_TOKEN' })
  if (token && token.length < MIN_TOKEN_LENGTH) {
    warnings.push({ path: ['journal', 'token'], message: `warning: the token is short; use at least ${MIN_TOKEN_LENGTH} random characters` })
  }
  if (config.pipelines.length === 0) warnings.push({ path: ['pipelines'], message: 'warning: no pipelines: the server will only answer 404' })
  config.pipelines.forEach((p, i) => p.actions.forEach((a, j) => warnings.push(...emptySecrets(a, ['pipelines', i, 'actions', j]))))
  return warnings
}

/** A credential that came out empty, usually from `${NAME:-}` with NAME unset: it loads, but the service will refuse it. */
function emptySecrets(action: object, at: PathKey[]): Problem[] {
  const empty = (v: unknown) => typeof v === 'string' && /^\s*((Bearer|Basic|Token)\s*)?$/i.test(v)
  const found: Problem[] = []
  for (const [key, value] of Object.entries(action)) {
    if (isSecretName(key) && empty(value)) found.push({ path: [...at, key], message: `warning: '${key}' is empty; set the environment variable it comes from` })
  }
  for (const [name, value] of Object.entries((action as { headers?: Record<string, unknown> }).headers ?? {})) {
    if (isSecretName(name) && empty(value)) found.push({ path: [...at, 'headers', name], message: `warning: header '${name}' is empty; set the environment variable it comes from` })
  }
  return found
}

/**
 * Every secret the config holds: `${ENV}` values, everything under a secret-named key (a
 * credential after its scheme too: `Bearer X` and `X`), and the userinfo of every URL (the SMTP
 * password, `https://user:pass@host`). A templated value is learned when a run renders it.
 * Runs on data that may not match the schema yet.
 */
function configSecrets(data: unknown, envSecrets: string[]): Masker {
  const masker = new Masker(envSecrets)
  const visit = (value: unknown, secret: boolean, depth: number): void => {
    if (depth > 64) return
    if (typeof value === 'string') {
      if (secret && !/\{\{|\{%/.test(value)) for (const part of credentialParts(value)) masker.learn(part)
      learnUserinfo(masker, value)
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, child] of Object.entries(value)) visit(child, secret || isSecretName(key), depth + 1)
    }
  }
  visit(data, false, 0)
  return masker
}
