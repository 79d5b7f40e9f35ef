/**
 * What a source preset adds to the plain `http` source: the sender's handshake, its
 * authentication, how its body becomes `in.*`, and its defaults (methods, answer, respond,
 * dedupe). Every preset is an `http` source underneath: key, response, on_error, respond and
 * dedupe in the config still apply and win over the defaults.
 */
import type { AnswerConfig } from '../config/schema.js'
import type { HookrelayError } from '../errors.js'
import type { SecretShape } from '../secrets/names.js'
import type { CompiledAction } from '../pipeline/compile.js'
import type { Answer } from './answer.js'
import type { IncomingRequest } from './incoming.js'

/** `in.*` for a request, and warnings about it for the journal. */
export interface Fields {
  fields: Record<string, unknown>
  warnings: string[]
  /** Why the request cannot be read (a bound it passed): it is kept as rejected, with this 4xx. */
  error?: HookrelayError
}

/**
 * What a preset makes of a request before any run: a handshake or connection check answered
 * and kept as `skipped` (no action, no letter), or a refusal kept as `rejected` (401/403).
 */
export type Screening = { handshake: Answer; note: string } | { refuse: HookrelayError }

/** One event of a delivery that carries several (Facebook batches up to 1,000 changes). */
export interface DeliveryPart extends Fields {
  /** Why this part cannot run (a change without a lead id): kept as rejected, the others still run. */
  error?: HookrelayError
  /** The delivery with only this event in it: what the part's run keeps (not the whole batch, a thousand times). */
  body: string
}

export interface Preset {
  /** The methods the sender uses; undefined: any (or the config's `methods`, for http). */
  methods?: readonly string[]
  respond?: 'after_actions' | 'on_receipt'
  /** The answer when the config has no `response`. */
  response?: AnswerConfig
  /** The dedupe template when the config has no `dedupe`: the sender's own event id. */
  dedupe?: string
  screen?(req: IncomingRequest): Screening | undefined
  readFields?(req: IncomingRequest): Fields
  /** A delivery that carries several events: one run each. */
  split?(req: IncomingRequest): DeliveryPart[]
  /** Actions that run before the pipeline's own (Facebook's Graph API read), with the ids they take. */
  firstSteps?: CompiledAction[]
  /** How the sender names fields in its own data (VK's answers), for masking: see SecretShape. */
  shape?: SecretShape
}

/** The plain-text answer senders such as Tilda and VK expect. */
export function textAnswer(body: string, status = 200): AnswerConfig {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body }
}
