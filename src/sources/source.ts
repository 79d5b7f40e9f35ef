/**
 * A pipeline's source compiled: its key, accepted methods, answers and CORS headers, and what
 * its preset adds (handshake, authentication, fields, defaults; see preset.ts).
 */
import type { BuildContext } from '../actions/types.js'
import { parseDuration } from '../config/duration.js'
import type { SourceConfig, SourceType, WebhookSourceConfig } from '../config/schema.js'
import type { CompiledAction } from '../pipeline/compile.js'
import { ERROR_NAMES, type KnownNames, type Template } from '../pipeline/template.js'
import { sameSecret } from '../secrets/compare.js'
import type { SecretShape } from '../secrets/names.js'
import { compileAnswer, type CompiledAnswer } from './answer.js'
import { facebookPreset } from './facebook.js'
import { GETCOURSE_FIELDS, getcoursePreset } from './getcourse.js'
import { inFields, type IncomingRequest } from './incoming.js'
import type { DeliveryPart, Fields, Preset, Screening } from './preset.js'
import { tildaPreset } from './tilda.js'
import { vkAdsSource, type CompiledPoller } from './vk-ads.js'
import { vkPreset } from './vk.js'

export interface CompiledSource {
  type: SourceType
  /** False for a source that has no URL (a poller): every request to it is an unknown URL. */
  webhook: boolean
  /** on_receipt: the answer goes as soon as the request is kept; the actions run after. */
  respond: 'after_actions' | 'on_receipt'
  /** undefined: any method. */
  methods: ReadonlySet<string> | undefined
  answer: CompiledAnswer
  onError: CompiledAnswer | undefined
  /** Compares a URL key in constant time. */
  keyMatches(given: string | undefined): boolean
  /** A handshake to answer, or an authentication to refuse, before any run. */
  screen(req: IncomingRequest): Screening | undefined
  /** `in.*` for a request, and warnings about it for the journal. */
  readFields(req: IncomingRequest): Fields
  /** A delivery that carries several events (one run each); undefined: one request, one run. */
  split: ((req: IncomingRequest) => DeliveryPart[]) | undefined
  /** Actions the source runs before the pipeline's own. */
  firstSteps: CompiledAction[]
  /** The dedupe key's template (see pipeline/dedupe.ts), and how long a key is remembered. */
  dedupe: Template | undefined
  dedupeWindowMs: number
  /** For a source that asks for its events itself (vk_ads.leads). */
  poller: CompiledPoller | undefined
  /** How the sender names fields in its own data, for its runs' maskers (see SecretShape). */
  shape: SecretShape | undefined
}

/** How long a dedupe key is remembered unless `dedupe_window` says otherwise. */
export const DEFAULT_DEDUPE_WINDOW_MS = 7 * 86_400_000

const PRESETS: Record<Exclude<SourceType, 'http' | 'vk_ads.leads'>, (config: never, build: BuildContext) => Preset> = {
  'getcourse.user': getcoursePreset,
  'getcourse.order': getcoursePreset,
  tilda: tildaPreset,
  vk: vkPreset,
  'facebook.leads': facebookPreset,
}

export function compileSource(config: SourceConfig, build: BuildContext): CompiledSource {
  if (config.type === 'vk_ads.leads') return vkAdsSource(config, build, dedupeWindow(config.dedupe_window, build))
  const preset: Preset = config.type === 'http' ? {} : PRESETS[config.type](config as never, build)
  const configured = 'methods' in config ? config.methods : undefined
  if (configured && preset.methods) {
    build.problem(['methods'], `${config.type} accepts ${preset.methods.join(' and ')}; remove methods or use type http`)
  }
  const methods = configured ?? preset.methods
  const respond = config.respond ?? preset.respond ?? 'after_actions'
  if (respond === 'on_receipt' && config.on_error) {
    build.problem(['on_error'], 'has no effect with respond: on_receipt (the answer is sent before any action runs); remove it')
  }
  const dedupe = config.dedupe ?? preset.dedupe
  return {
    type: config.type,
    webhook: true,
    respond,
    methods: methods ? new Set(methods) : undefined,
    // Answered on receipt, the response is rendered before any step exists.
    answer: compileAnswer(config.response ?? preset.response, 200, respond === 'on_receipt' ? build.withoutSteps(['response']) : build.at(['response'])),
    onError: config.on_error ? compileAnswer(config.on_error, 500, build.at(['on_error'], ERROR_NAMES)) : undefined,
    keyMatches: keyMatcher(config.key),
    screen: preset.screen ?? (() => undefined),
    readFields: preset.readFields ?? ((req) => ({ fields: inFields(req), warnings: [] })),
    split: preset.split,
    firstSteps: preset.firstSteps ?? [],
    // Rendered before any action: it may read the request, never a step.
    dedupe: dedupe === undefined ? undefined : build.withoutSteps(['dedupe']).template(dedupe, []),
    dedupeWindowMs: dedupeWindow(config.dedupe_window, build),
    poller: undefined,
    shape: preset.shape,
  }
}

/** The ids of the steps a source runs before the pipeline's actions (known before it compiles, for template checks). */
/**
 * What a source sends in `in.*`, as known at load: the GetCourse presets send the fields of the
 * URL `hookrelay urls` prints, and any parameter the operator added to it; the lead platforms
 * their standard fields and the form's own questions. So only a near miss of a standard field
 * is taken for a typo (`in.emial`); another name may be the sender's own. A plain http source
 * and Tilda (every field is the form author's) say nothing.
 */
export function knownInFields(type: SourceType): KnownNames['in'] {
  const source = `the ${type} source`
  switch (type) {
    case 'getcourse.user':
    case 'getcourse.order':
      return {
        source,
        names: GETCOURSE_FIELDS[type].map(([name]) => name),
        complete: false,
        other: 'if you added this parameter to the URL in GetCourse yourself, give it a name further from these',
      }
    case 'vk':
      return { source, names: ['lead_id', 'group_id', 'user_id', 'form_id', 'form_name', 'ad_id', 'first_name', 'last_name', 'phone_number', 'email'], complete: false }
    case 'facebook.leads':
      return {
        source,
        names: ['id', 'created_time', 'ad_id', 'ad_name', 'adset_id', 'adset_name', 'campaign_id', 'campaign_name', 'form_id', 'form_name', 'page_id', 'page_name', 'full_name', 'first_name', 'last_name', 'email', 'phone_number'],
        complete: false,
      }
    case 'vk_ads.leads':
      return { source, names: ['id', 'form_id', 'form_name', 'ad_plan_id', 'ad_group_id', 'banner_id', 'created_at', 'first_name', 'last_name', 'email', 'phone'], complete: false }
    default:
      return undefined
  }
}

export function firstStepIds(type: SourceType): string[] {
  return type === 'facebook.leads' ? ['facebook'] : []
}

/** The URL key of a source; none for a poller, which has no URL. */
export function sourceKey(config: SourceConfig): string | undefined {
  return config.type === 'vk_ads.leads' ? undefined : (config as WebhookSourceConfig).key
}

function dedupeWindow(value: string | number | undefined, build: BuildContext): number {
  if (value === undefined) return DEFAULT_DEDUPE_WINDOW_MS
  const ms = parseDuration(value)
  if (ms === undefined || ms <= 0) build.problem(['dedupe_window'], `'${String(value)}' is not a positive duration`)
  return ms || DEFAULT_DEDUPE_WINDOW_MS
}

function keyMatcher(key: string | undefined): (given: string | undefined) => boolean {
  if (key === undefined) return (given) => given === undefined
  return (given) => sameSecret(given, key)
}
