/**
 * Runs a pipeline's actions in order. Each step is journaled as it starts and ends; the first
 * failure ends the run unless the action has `continue_on_error`. Nothing an action throws,
 * not even a bug, escapes: it becomes the step's error.
 */
import type { StepContext, StepPart } from '../actions/types.js'
import { hookrelayError, HookrelayError, type ErrorCode, type Fault } from '../errors.js'
import type { StepRecorder } from '../journal/journal.js'
import type { Masked, Masker } from '../secrets/masker.js'
import { hideUrlSecrets } from '../secrets/urls.js'
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
  /** Whose input the failed step could not use (see HookrelayError.fault). */
  fault?: Fault
}

export interface RunInput {
  actions: readonly CompiledAction[]
  scope: Scope
  mask: Masker
  recorder: StepRecorder
  signal: AbortSignal
}

export async function runActions(input: RunInput): Promise<RunOutcome> {
  const written: Written[] = []
  const outcome = await runSteps(input, written)
  reviseLate(input, written)
  return outcome
}

/** What a step's row was written with: its parts as the action gave them, and how much the masker knew then. */
interface Written {
  seq: number
  version: number
  parts: { request?: StepPart; response?: StepPart; output?: unknown }
  error?: string
}

/**
 * A later step may teach the masker a secret an earlier one had in its answer (a token a login
 * answered, sent on as a credential): such rows are written again, masked with all it knows.
 */
function reviseLate({ mask, recorder }: RunInput, written: readonly Written[]): void {
  for (const { seq, version, parts, error } of written) {
    if (version === mask.version) continue
    recorder.revise(seq, {
      request: parts.request && forJournal(mask, parts.request),
      response: parts.response && forJournal(mask, parts.response),
      output: parts.output === undefined ? undefined : mask.value(parts.output),
      error: error === undefined ? undefined : mask.text(error),
    })
  }
}

async function runSteps({ actions, scope, mask, recorder, signal }: RunInput, written: Written[]): Promise<RunOutcome> {
  const steps = scope['steps'] as Record<string, unknown>
  for (const [seq, step] of actions.entries()) {
    if (signal.aborted) {
      const err = hookrelayError('HR_RUN_ABORTED')
      return { status: 'failed', failedStep: step.id, failedType: step.type, error: mask.message(err), errorCode: err.code }
    }
    const started = Date.now()
    recorder.started({ seq, id: step.id, type: step.type, startedAt: new Date(started).toISOString() })
    // Each part is masked when it is recorded (the action has learned its secrets by then), and
    // again at the run's end if the masker learned more meanwhile (reviseLate).
    const kept: { request?: Masked<unknown>; response?: Masked<unknown>; output?: Masked<unknown> } = {}
    const parts: Written['parts'] = {}
    let version: number | undefined // what the masker knew when the first part was masked
    const ctx: StepContext = {
      scope,
      signal,
      mask,
      record(part) {
        Object.assign(parts, part)
        version ??= mask.version
        if (part.request !== undefined) recorder.request(seq, (kept.request = forJournal(mask, part.request)))
        if (part.response !== undefined) kept.response = forJournal(mask, part.response)
        if (part.output !== undefined) kept.output = mask.value(part.output)
      },
    }
    try {
      steps[step.id] = await step.action.run(ctx)
      recorder.finished(seq, { status: 'ok', durationMs: Date.now() - started, ...kept })
      written.push({ seq, version: version ?? mask.version, parts })
    } catch (err) {
      const error = mask.message(err)
      recorder.finished(seq, { status: 'failed', durationMs: Date.now() - started, error, ...kept })
      written.push({ seq, version: version ?? mask.version, parts, error: err instanceof Error ? err.message : String(err) })
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
        fault: err instanceof HookrelayError ? err.fault : undefined,
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
  const { encodeBody, ...kept } = part
  if (encodeBody) kept.body = encodeBody(mask)
  if (typeof kept.url === 'string') kept.url = hideUrlSecrets(kept.url)
  return mask.exchange(kept, JOURNAL_BODY_LIMIT)
}
