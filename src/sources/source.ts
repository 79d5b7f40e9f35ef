/** A pipeline's source compiled: its key, accepted methods, answers and CORS headers. */
import { timingSafeEqual } from 'node:crypto'
import type { BuildContext } from '../actions/types.js'
import { parseDuration } from '../config/duration.js'
import type { SourceConfig, SourceType } from '../config/schema.js'
import { ERROR_NAMES, type Template } from '../pipeline/template.js'
import { compileAnswer, type CompiledAnswer } from './answer.js'
import { guardGetcourseFields, isGetcourse } from './getcourse.js'
import { inFields, type IncomingRequest } from './incoming.js'

/** GetCourse's "Вызвать URL" sends GET or POST; the presets accept exactly those. */
const GETCOURSE_METHODS = ['GET', 'POST'] as const

export interface CompiledSource {
  type: SourceType
  /** on_receipt: the answer goes as soon as the request is kept; the actions run after. */
  respond: 'after_actions' | 'on_receipt'
  /** undefined: any method. */
  methods: ReadonlySet<string> | undefined
  answer: CompiledAnswer
  onError: CompiledAnswer | undefined
  /** Compares a URL key in constant time. */
  keyMatches(given: string | undefined): boolean
  /** `in.*` for a request, and warnings about it for the journal. */
  readFields(req: IncomingRequest): { fields: Record<string, unknown>; warnings: string[] }
  /** The dedupe key's template (see pipeline/dedupe.ts), and how long a key is remembered. */
  dedupe: Template | undefined
  dedupeWindowMs: number
}

/** How long a dedupe key is remembered unless `dedupe_window` says otherwise. */
export const DEFAULT_DEDUPE_WINDOW_MS = 7 * 86_400_000

export function compileSource(config: SourceConfig, build: BuildContext): CompiledSource {
  if (config.type !== 'http' && config.methods) {
    build.problem(['methods'], `${config.type} accepts ${GETCOURSE_METHODS.join(' and ')}; remove methods or use type http`)
  }
  const methods = config.type === 'http' ? config.methods : GETCOURSE_METHODS
  const respond = config.respond ?? 'after_actions'
  if (respond === 'on_receipt' && config.on_error) {
    build.problem(['on_error'], 'has no effect with respond: on_receipt (the answer is sent before any action runs); remove it')
  }
  return {
    type: config.type,
    respond,
    methods: methods ? new Set(methods) : undefined,
    // Answered on receipt, the response is rendered before any step exists.
    answer: compileAnswer(config.response, 200, respond === 'on_receipt' ? build.withoutSteps(['response']) : build.at(['response'])),
    onError: config.on_error ? compileAnswer(config.on_error, 500, build.at(['on_error'], ERROR_NAMES)) : undefined,
    keyMatches: keyMatcher(config.key),
    readFields: isGetcourse(config.type) ? readGetcourseFields : (req) => ({ fields: inFields(req), warnings: [] }),
    // Rendered before any action: it may read the request, never a step.
    dedupe: config.dedupe === undefined ? undefined : build.withoutSteps(['dedupe']).template(config.dedupe, []),
    dedupeWindowMs: dedupeWindow(config.dedupe_window, build),
  }
}

function dedupeWindow(value: string | number | undefined, build: BuildContext): number {
  if (value === undefined) return DEFAULT_DEDUPE_WINDOW_MS
  const ms = parseDuration(value)
  if (ms === undefined || ms <= 0) build.problem(['dedupe_window'], `'${String(value)}' is not a positive duration`)
  return ms || DEFAULT_DEDUPE_WINDOW_MS
}

function readGetcourseFields(req: IncomingRequest): { fields: Record<string, unknown>; warnings: string[] } {
  const fields = inFields(req, true) // the guard edits it
  return { fields, warnings: guardGetcourseFields(fields) }
}

/**
 * Constant time over the key's content. timingSafeEqual throws on a length mismatch, so a key of
 * another length is compared with the expected key itself (the same work) and refused: only
 * "the length differs" can show in the timing, never how much of the key was right. (Hashing
 * both sides would hide the length too, at several microseconds per request.)
 */
function keyMatcher(key: string | undefined): (given: string | undefined) => boolean {
  if (key === undefined) return (given) => given === undefined
  const expected = Buffer.from(key)
  return (given) => {
    if (given === undefined) return false
    const candidate = Buffer.from(given)
    if (candidate.length !== expected.length) return !timingSafeEqual(expected, expected)
    return timingSafeEqual(candidate, expected)
  }
}
