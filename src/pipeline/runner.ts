/**
 * Runs a pipeline's actions in order. Each step is journaled as it starts and ends; the first
 * failure ends the run unless the action has `continue_on_error`. Nothing an action throws,
 * not even a bug, escapes: it becomes the step's error.
 */
import type { StepContext, StepPart } from '../actions/types.js'
import { hookrelayError, HookrelayError, type ErrorCode } from '../errors.js'
import type { StepRecorder } from '../journal/journal.js'
import type { Masked, Masker } from '../secrets/masker.js'
import { hideUserinfo } from '../secrets/urls.js'
import type { CompiledAction } from './compile.js'
import type { Scope } from './template.js'

/** Bytes of a request or answer body kept in the journal; cut only after masking. */
export const JOURNAL_BODY_LIMIT = 64 * 1024

export interface RunOutcome {
  status: 'ok' | 'failed'
  /** The action that ended the run, its type, and what it kept of the upstream's answer (masked). */
  failedStep?: string
  failedType?: string
  failedResponse?: Masked<unknown>
  /** The failed step's error, masked. */
  error?: Masked<string>
  errorCode?: ErrorCode
}

export interface RunInput {
  actions: readonly CompiledAction[]
  scope: Scope
  mask: Masker
  recorder: StepRecorder
  signal: AbortSignal
}

export async function runActions({ actions, scope, mask, recorder, signal }: RunInput): Promise<RunOutcome> {
  const steps = scope['steps'] as Record<string, unknown>
  for (const [seq, step] of actions.entries()) {
    if (signal.aborted) {
      const err = hookrelayError('HR_RUN_ABORTED')
      return { status: 'failed', failedStep: step.id, failedType: step.type, error: mask.message(err), errorCode: err.code }
    }
    const started = Date.now()
    recorder.started({ seq, id: step.id, type: step.type, startedAt: new Date(started).toISOString() })
    // Each part is masked once, when it is recorded (the action has learned its secrets by then).
    const kept: { request?: Masked<unknown>; response?: Masked<unknown>; output?: Masked<unknown> } = {}
    const ctx: StepContext = {
      scope,
      signal,
      mask,
      record(part) {
        if (part.request !== undefined) recorder.request(seq, (kept.request = forJournal(mask, part.request)))
        if (part.response !== undefined) kept.response = forJournal(mask, part.response)
        if (part.output !== undefined) kept.output = mask.value(part.output)
      },
    }
    try {
      steps[step.id] = await step.action.run(ctx)
      recorder.finished(seq, { status: 'ok', durationMs: Date.now() - started, ...kept })
    } catch (err) {
      const error = mask.message(err)
      recorder.finished(seq, { status: 'failed', durationMs: Date.now() - started, error, ...kept })
      if (step.continueOnError) {
        steps[step.id] = { error }
        continue
      }
      return {
        status: 'failed',
        failedStep: step.id,
        failedType: step.type,
        failedResponse: kept.response,
        error,
        errorCode: err instanceof HookrelayError ? err.code : 'HR_INTERNAL',
      }
    }
  }
  return { status: 'ok' }
}

/**
 * A step's request or answer as the journal keeps it: masked whole (the body as JSON or a form
 * too, by its content type), the URL's userinfo hidden, and only then the body cut to the limit.
 */
function forJournal(mask: Masker, part: StepPart): Masked<StepPart> {
  const kept = mask.exchange(typeof part.url === 'string' ? { ...part, url: hideUserinfo(part.url) } : part)
  if (typeof kept.body === 'string') {
    const { text, cut: wasCut } = cut(kept.body, JOURNAL_BODY_LIMIT) // a start of masked text is masked text
    kept.body = text
    if (wasCut) kept.truncated = true
  }
  return kept
}

function cut(text: string, limit: number): { text: string; cut: boolean } {
  if (text.length <= limit / 4 || Buffer.byteLength(text) <= limit) return { text, cut: false }
  return { text: Buffer.from(text).subarray(0, limit).toString('utf8'), cut: true }
}
