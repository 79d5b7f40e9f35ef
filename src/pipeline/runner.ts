/**
 * Runs a pipeline's actions in order. Each step is journaled as it starts and ends; the first
 * failure ends the run unless the action has `continue_on_error`. Nothing an action throws,
 * not even a bug, escapes: it becomes the step's error.
 */
import type { StepContext } from '../actions/types.js'
import { hookrelayError, HookrelayError, type ErrorCode } from '../errors.js'
import type { StepRecorder } from '../journal/journal.js'
import type { Masker } from '../mask.js'
import type { CompiledAction } from './compile.js'
import type { Scope } from './template.js'

export interface RunOutcome {
  status: 'ok' | 'failed'
  /** The action that ended the run, its type, and what it kept of the upstream's answer (masked). */
  failedStep?: string
  failedType?: string
  failedResponse?: unknown
  /** The failed step's error, masked. */
  error?: string
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
      return { status: 'failed', failedStep: step.id, failedType: step.type, error: err.message, errorCode: err.code }
    }
    const started = Date.now()
    recorder.started({ seq, id: step.id, type: step.type, startedAt: new Date(started).toISOString() })
    // Each part is masked once, when it is recorded (the action has added its secrets by then).
    const kept: { request?: unknown; response?: unknown; output?: unknown } = {}
    const ctx: StepContext = {
      scope,
      signal,
      mask,
      record(part) {
        if (part.request !== undefined) recorder.request(seq, (kept.request = mask.value(part.request)))
        if (part.response !== undefined) kept.response = mask.value(part.response)
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
