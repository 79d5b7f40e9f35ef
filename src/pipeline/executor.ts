/**
 * One request through one pipeline: keep it in the journal (on disk before any action runs),
 * run the actions, render the answer, and record the outcome. The webhook route and replay
 * both come through here.
 */
import { setMaxListeners } from 'node:events'
import type { Log } from '../log.js'
import { hookrelayError, HookrelayError } from '../errors.js'
import type { Journal, StepRecorder } from '../journal/journal.js'
import type { Write } from '../journal/writer.js'
import { newRunId } from '../journal/run-id.js'
import type { KeptRequest, NewRun, RunFinish, RunStatus, SentAnswer } from '../journal/runs.js'
import type { Metrics } from '../metrics.js'
import { answerExcerpt } from '../notify/letters.js'
import type { FailureReports } from '../notify/notifier.js'
import type { FailureSummary } from '../notify/store.js'
import { FIELD_SECRET_MAX_LENGTH, FIELD_SECRET_MIN_LENGTH, RUN_LEARNING, type Masked, type Masker } from '../secrets/masker.js'
import { defaultErrorAnswer, errorAnswer, maskAnswer, restoreAnswer, type Answer } from '../sources/answer.js'
import { keepRequest, runScope, shownBody, type IncomingRequest } from '../sources/incoming.js'
import { parseBody } from '../sources/body.js'
import type { DeliveryPart } from '../sources/preset.js'
import type { CompiledPipeline } from './compile.js'
import { Deduplicator, type Claim, type FirstRun } from './dedupe.js'
import { runActions, type RunOutcome } from './runner.js'
import type { Scope } from './template.js'

export interface RunResult {
  runId: string
  status: RunStatus
  /** Exactly what the journal says was sent. */
  answer: Masked<Answer>
}

/** The answer sent on receipt, and the error that replaced it when its template failed. */
interface EarlyAnswer {
  answer: Masked<Answer>
  error?: string
}

/** How a run ends: its status, its error, and the answer the caller gets, all masked. */
interface Ending {
  status: 'ok' | 'failed'
  error: Masked<string> | undefined
  answer: Masked<Answer>
}

export interface ExecutorDeps {
  journal: Journal
  masker: Masker
  log: Log
  /** The operator's letters: a failed run of a pipeline with `notify` on is queued for one. */
  failures?: FailureReports | undefined
  /** Counts runs and steps as they end (GET /metrics); the CLI's replay has none. */
  metrics?: Metrics | undefined
}

export interface ReceiveOptions {
  replayOf?: string | undefined
  log?: Log
  /** For `respond: on_receipt`: called with the answer as soon as the request is kept. */
  respondEarly?: (result: RunResult) => void
  /** Called once the run is in the journal: whatever goes wrong after, it is not kept again. */
  onKept?: () => void
}

export class Executor {
  readonly #deps: ExecutorDeps
  readonly #abort = new AbortController()
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #dedupe: Deduplicator

  constructor(deps: ExecutorDeps) {
    this.#deps = deps
    this.#dedupe = new Deduplicator(deps.journal)
    // Outgoing calls share one listener (see http/client.ts); actions of other kinds may add
    // their own while they run: no limit, so no false warning of a leak in the log.
    setMaxListeners(0, this.#abort.signal)
  }

  /**
   * Journals and runs `req`. Throws HR_JOURNAL_UNAVAILABLE when the request could not be kept:
   * then nothing ran, and the caller should be told to retry.
   */
  receive(pipeline: CompiledPipeline, req: IncomingRequest, options: ReceiveOptions = {}): Promise<RunResult> {
    return this.#track(this.#receive(pipeline, req, options))
  }

  /** Runs in flight are waited for at shutdown (idle()). */
  #track<T>(run: Promise<T>): Promise<T> {
    this.#inflight.add(run)
    const forget = () => this.#inflight.delete(run)
    run.then(forget, forget)
    return run
  }

  /** Waits until no run is in flight, or `timeoutMs` passed; true when none is left. */
  async idle(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs
    while (this.#inflight.size > 0) {
      const left = until - Date.now()
      if (left <= 0) return false
      await Promise.race([Promise.allSettled([...this.#inflight]), new Promise((r) => setTimeout(r, left).unref())])
    }
    return true
  }

  async #receive(pipeline: CompiledPipeline, req: IncomingRequest, options: ReceiveOptions, part?: DeliveryPart): Promise<RunResult> {
    if (req.body.error) return this.reject(pipeline, req, req.body.error, options)
    if (!pipeline.enabled) return this.#keepFinished(pipeline, req, 'skipped', options, { error: hookrelayError('HR_PIPELINE_STOPPED') })
    // A replay was let in once already: no handshake, no signature (its secret headers are kept masked).
    if (options.replayOf === undefined && part === undefined) {
      const screening = pipeline.source.screen(req)
      if (screening && 'refuse' in screening) return this.reject(pipeline, req, screening.refuse, options)
      if (screening) return this.#keepFinished(pipeline, req, 'skipped', options, { answer: screening.handshake, note: screening.note })
    }
    const { split } = pipeline.source
    if (split && part === undefined) {
      const parts = split(req)
      if (req.delivery === undefined) return this.#receiveDelivery(pipeline, req, parts, options)
      // A replay: the run kept only its own event.
      const replayed = parts.length === 1 ? parts[0] : parts[req.delivery.part]
      if (!replayed) throw hookrelayError('HR_REPLAY_REFUSED', [`the kept delivery no longer holds part ${req.delivery.part + 1}`])
      part = replayed
    }

    const read = part ?? pipeline.source.readFields(req)
    if (read.error) return this.reject(pipeline, req, read.error, options)
    const { fields, warnings } = read
    const runId = newRunId()
    const mask = this.#deps.masker.forRun(pipeline.source.shape)
    // Learns the request's secrets (its credentials, its secret-named fields), and keeps its body as sent.
    const { request, shown } = keepRequest(req, mask, fields)
    const maskVersion = mask.version // what the kept request was masked with
    const scope = runScope(req, fields, { id: runId }, { id: pipeline.id, name: pipeline.name })
    // A replay is asked for by the operator: it is never a duplicate.
    const dedupeKey = options.replayOf === undefined ? dedupeDigest(pipeline, scope, warnings) : undefined
    const kept = { id: runId, pipeline: pipeline.id, receivedAt: req.receivedAt.toISOString(), request, shown, replayOf: options.replayOf, dedupeKey, maskVersion }
    const first = dedupeKey === undefined ? undefined : this.#dedupe.first(dedupeKey, pipeline.source.dedupeWindowMs)
    if (first) return this.#keepDuplicate(pipeline, req, kept, first, scope, mask, warnings, options)

    const claim = dedupeKey === undefined ? undefined : this.#dedupe.claim(dedupeKey, runId)
    let inJournal = false
    const onKept = () => {
      inJournal = true
      options.onKept?.()
    }
    try {
      const result = await this.#run(pipeline, req, kept, scope, mask, warnings, { log: options.log, respondEarly: options.respondEarly, onKept }, claim)
      claim?.answered(result.answer)
      return result
    } catch (err) {
      if (!inJournal) throw err
      return this.#failInternally(req, runId, mask, err, options.log ?? this.#deps.log)
    } finally {
      claim?.release()
    }
  }

  /** A run in the journal that hit a fault of hookrelay's own: it ends failed, and the caller gets 500. */
  async #failInternally(req: IncomingRequest, runId: string, mask: Masker, err: unknown, log: Log): Promise<RunResult> {
    log.error({ err, runId }, 'a run failed inside hookrelay')
    const answer = maskAnswer(mask, errorAnswer(hookrelayError('HR_INTERNAL'), runId))
    const finishedAt = new Date()
    const finish = { status: 'failed' as const, error: mask.text(`internal error: ${mask.message(err)}`), response: sentRecord(mask, answer) }
    await this.#deps.journal.finish(runId, { ...finish, finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - req.receivedAt.getTime() }).catch(() => undefined)
    return { runId, status: 'failed', answer }
  }

  async #run(
    pipeline: CompiledPipeline,
    req: IncomingRequest,
    kept: NewRunStart,
    scope: Scope,
    mask: Masker,
    warnings: string[],
    options: ReceiveOptions,
    claim: Claim | undefined,
  ): Promise<RunResult> {
    const runId = kept.id
    const started = Date.now()
    const log = options.log ?? this.#deps.log
    if (pipeline.actions.length === 0) {
      // Nothing runs between keeping the request and answering it: keep the run finished, in one write.
      const outcome: RunOutcome = { status: 'ok' }
      const end = this.#answer(pipeline, outcome, scope, runId, mask)
      const finishedAt = new Date()
      const durationMs = finishedAt.getTime() - started
      const failure = this.#failureWrite(pipeline, runId, req, outcome, end, mask)
      const run = newRun(kept, end.status, runNotes(mask, warnings), { error: end.error, response: sentRecord(mask, end.answer), finishedAt: finishedAt.toISOString(), durationMs })
      await this.#keep(() => this.#deps.journal.insert(run, ...failure))
      options.onKept?.()
      return this.#ended(pipeline, req, runId, end, durationMs, failure, log)
    }

    await this.#keep(() => this.#deps.journal.insert(newRun(kept, 'running', runNotes(mask, warnings))))
    options.onKept?.()
    const early = pipeline.source.respond === 'on_receipt' ? this.#earlyAnswer(pipeline, scope, runId, mask) : undefined
    if (early) {
      claim?.answered(early.answer)
      options.respondEarly?.({ runId, status: 'running', answer: early.answer })
    }

    const recorder = this.#observed(this.#deps.journal.recorder(runId))
    const outcome = await runActions({ actions: pipeline.actions, scope, mask, recorder, signal: this.#abort.signal })
    // On receipt the caller has its answer already: the response is not rendered again.
    const end: Ending = early ? afterEarlyAnswer(outcome, early, mask) : this.#answer(pipeline, outcome, scope, runId, mask)

    const durationMs = Date.now() - started
    const failure = this.#failureWrite(pipeline, runId, req, outcome, end, mask)
    const finish: RunFinish = {
      status: end.status,
      error: end.error,
      response: sentRecord(mask, end.answer),
      warnings: runNotes(mask, warnings),
      shown: mask.version === kept.maskVersion ? undefined : shownBody(kept.request, req.body.value, mask),
      finishedAt: new Date().toISOString(),
      durationMs,
    }
    try {
      await this.#deps.journal.finish(runId, finish, ...failure)
    } catch (err) {
      // The run stays `running` in the journal; the next start marks it interrupted and reports it.
      log.error({ err, runId }, 'journal could not record the end of a run')
      return this.#ended(pipeline, req, runId, end, durationMs, [], log)
    }
    return this.#ended(pipeline, req, runId, end, durationMs, failure, log)
  }

  /** The recorder, also telling the metrics how each step ended. */
  #observed(recorder: StepRecorder): StepRecorder {
    const { metrics } = this.#deps
    if (!metrics) return recorder
    const types = new Map<number, string>()
    return {
      started(step) {
        types.set(step.seq, step.type)
        recorder.started(step)
      },
      request: recorder.request,
      finished(seq, finish) {
        metrics.stepEnded(types.get(seq) ?? 'unknown', finish.status, finish.durationMs)
        recorder.finished(seq, finish)
      },
      revise: recorder.revise,
    }
  }

  /** The run's one log line; the letter for a failure that is now on disk. */
  #ended(pipeline: CompiledPipeline, req: IncomingRequest, runId: string, end: Ending, durationMs: number, failure: Write[], log: Log): RunResult {
    const { status, error, answer } = end
    // The journal keeps every run: a run that went well is logged at debug only (an info line
    // per run cost a tenth of intake's throughput, see bench/RESULTS-levers.md); one that did
    // not, or whose answer (the operator's) is a 5xx, at info.
    const line = { runId, pipeline: pipeline.id, method: req.method, status, answer: answer.status, durationMs, error }
    if (status === 'ok' && answer.status < 500) log.debug(line, 'run finished')
    else log.info(line, 'run finished')
    this.#deps.metrics?.runEnded(pipeline.id, status, durationMs)
    if (failure.length > 0) this.#deps.failures?.reported(pipeline.id)
    return { runId, status, answer }
  }

  /** The failure's row for the operator's letter, written with the run's end (none when not wanted). */
  #failureWrite(pipeline: CompiledPipeline, runId: string, req: IncomingRequest, outcome: RunOutcome, end: Ending, mask: Masker): Write[] {
    const { failures } = this.#deps
    if (end.status !== 'failed' || !pipeline.notify || !failures) return []
    return [failures.failureWrite(mask.value(failureSummary(pipeline, runId, req, outcome, outcome.error ?? end.error ?? '')))]
  }

  /** The answer sent on receipt; a template that fails gives the error answer, and its error. */
  #earlyAnswer(pipeline: CompiledPipeline, scope: Scope, runId: string, mask: Masker): EarlyAnswer {
    try {
      return { answer: mask.render(scope, (view) => pipeline.source.answer.render(view)) }
    } catch (err) {
      const message = mask.message(err)
      return { answer: maskAnswer(mask, errorAnswer(hookrelayError('HR_RESPONSE_FAILED', [message]), runId)), error: `response: ${message}` }
    }
  }

  /** A request whose dedupe key a first run was kept with: runs nothing, kept as a duplicate, answered as the first was. */
  async #keepDuplicate(
    pipeline: CompiledPipeline,
    req: IncomingRequest,
    kept: NewRunStart,
    first: FirstRun,
    scope: Scope,
    mask: Masker,
    warnings: string[],
    options: ReceiveOptions,
  ): Promise<RunResult> {
    const given = 'running' in first ? await first.running : first.kept // a first run still going: its answer
    // The first run was never kept (the journal refused it): this one is no duplicate of anything.
    if (given === null && this.#deps.journal.get(first.runId) === undefined) throw hookrelayError('HR_JOURNAL_UNAVAILABLE')
    const answer = given === null ? fallbackAnswer(pipeline, scope, mask) : 'running' in first ? (given as Masked<Answer>) : keptAnswer(pipeline, given as SentAnswer, first.status, mask)
    const finishedAt = new Date()
    const durationMs = finishedAt.getTime() - req.receivedAt.getTime()
    const response = sentRecord(mask, answer)
    const run = newRun(kept, 'duplicate', runNotes(mask, warnings), { duplicateOf: first.runId, finishedAt: finishedAt.toISOString(), durationMs, response })
    await this.#keep(() => this.#deps.journal.insert(run))
    const log = options.log ?? this.#deps.log
    log.info({ runId: kept.id, pipeline: pipeline.id, method: req.method, status: 'duplicate', duplicateOf: first.runId, answer: answer.status }, 'run kept as a duplicate')
    this.#deps.metrics?.runEnded(pipeline.id, 'duplicate', durationMs)
    return { runId: kept.id, status: 'duplicate', answer }
  }

  /** Keeps a request that was refused before any action (bad body, wrong method, too large). */
  reject(pipeline: CompiledPipeline, req: IncomingRequest, err: HookrelayError, options: ReceiveOptions = {}): Promise<RunResult> {
    return this.#keepFinished(pipeline, req, 'rejected', options, { error: err })
  }

  /** Ends calls in flight (at shutdown): their steps fail and the runs end as failed. */
  abort(): void {
    this.#abort.abort()
  }

  /**
   * One delivery that carries several events (a Facebook batch): one run each, and one answer,
   * the source's, once every run is kept. A part that cannot be read is kept as rejected; the
   * others still run. Nothing in it: kept as skipped.
   */
  async #receiveDelivery(pipeline: CompiledPipeline, req: IncomingRequest, parts: DeliveryPart[], options: ReceiveOptions): Promise<RunResult> {
    if (parts.length === 0) return this.#keepFinished(pipeline, req, 'skipped', options, { answer: { status: 200, headers: {}, body: '' }, note: 'a delivery without an event to run' })
    const delivery = newRunId()
    const kept = await Promise.all(
      parts.map((part, i) => {
        const one = { ...req, body: parseBody(Buffer.from(part.body), 'application/json'), delivery: { id: delivery, part: i, of: parts.length } }
        if (part.error) return this.reject(pipeline, one, part.error, options)
        return new Promise<RunResult>((resolve, reject) => {
          this.#track(this.#receive(pipeline, one, { ...options, respondEarly: resolve }, part)).then(resolve, reject)
        })
      }),
    )
    const answered = kept.find((r) => r.status !== 'rejected') ?? kept[0]!
    const mask = this.#deps.masker.forRun()
    return { runId: answered.runId, status: answered.status, answer: mask.render({}, () => pipeline.source.answer.render({})) }
  }

  /** A request kept without a run: refused (rejected), stopped or a handshake (skipped); answered with the error, or the handshake's answer. */
  async #keepFinished(
    pipeline: CompiledPipeline,
    req: IncomingRequest,
    status: RunStatus,
    options: ReceiveOptions,
    why: { error: HookrelayError } | { answer: Answer; note: string },
  ): Promise<RunResult> {
    const runId = newRunId()
    const mask = this.#deps.masker.forRun(pipeline.source.shape)
    const { request, shown } = keepRequest(req, mask)
    // The error may quote the request (V8 on bad JSON), which may hold a secret. A handshake's
    // answer is the preset's (a VK confirmation code from the config): sent as written.
    // A failed poll's error quotes the API's whole answer: masked whole, then shortened.
    const message = 'error' in why ? mask.message(why.error) : undefined
    const error = message !== undefined && status === 'failed' && message.length > MAX_POLL_ERROR ? mask.text(`${message.slice(0, MAX_POLL_ERROR)}...`) : message
    const answer = 'error' in why ? maskAnswer(mask, errorAnswer(why.error, runId)) : mask.render({}, () => why.answer)
    // A failed poll is reported like a failed run (letters are digests: not one a minute).
    const { failures } = this.#deps
    const summary = status === 'failed' && error !== undefined && pipeline.notify && failures
      ? mask.value<FailureSummary>({ runId, pipeline: pipeline.id, pipelineName: pipeline.name, status: 'failed', receivedAt: req.receivedAt.toISOString(), error })
      : undefined
    const failure = summary && failures ? [failures.failureWrite(summary)] : []
    await this.#keep(() =>
      this.#deps.journal.insert({
        id: runId,
        pipeline: pipeline.id,
        status,
        receivedAt: req.receivedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        durationMs: Date.now() - req.receivedAt.getTime(),
        request,
        shown,
        replayOf: options.replayOf,
        error,
        response: sentRecord(mask, answer),
        warnings: runNotes(mask, 'note' in why ? [why.note] : []),
      }, ...failure),
    )
    if (failure.length > 0) failures?.reported(pipeline.id)
    this.#deps.metrics?.runEnded(pipeline.id, status, Date.now() - req.receivedAt.getTime())
    ;(options.log ?? this.#deps.log).info({ runId, pipeline: pipeline.id, method: req.method, status, answer: answer.status, error, note: 'note' in why ? why.note : undefined }, 'run kept without running')
    return { runId, status, answer }
  }

  /** A poll that failed (the API refused it, or was unreachable): kept as a failed run, and reported. */
  keepFailedPoll(pipeline: CompiledPipeline, req: IncomingRequest, err: HookrelayError): Promise<RunResult> {
    return this.#track(this.#keepFinished(pipeline, req, 'failed', {}, { error: err }))
  }

  async #keep(write: () => Promise<void>): Promise<void> {
    try {
      await write()
    } catch (err) {
      if (err instanceof HookrelayError && err.code === 'HR_JOURNAL_BUSY') throw err // the writer logs when it fills and empties
      this.#deps.log.error({ err }, 'journal write failed; the request was refused')
      throw hookrelayError('HR_JOURNAL_UNAVAILABLE', [], { cause: err })
    }
  }

  /** The answer for an outcome: the source's response, its on_error, or the default error. */
  #answer(pipeline: CompiledPipeline, outcome: RunOutcome, scope: Scope, runId: string, mask: Masker): Ending {
    const { source } = pipeline
    const failed = (error: string, answer: Masked<Answer>): Ending => ({ status: 'failed', error: mask.text(error), answer })
    if (outcome.status === 'ok') {
      try {
        return { status: 'ok', error: undefined, answer: mask.render(scope, (view) => source.answer.render(view)) }
      } catch (err) {
        const message = mask.message(err)
        return failed(`response: ${message}`, maskAnswer(mask, errorAnswer(hookrelayError('HR_RESPONSE_FAILED', [message]), runId)))
      }
    }
    const step = outcome.failedStep ?? '?'
    const error = stepError(outcome)
    const defaultAnswer = () => maskAnswer(mask, defaultErrorAnswer(step, outcome.error ?? '', runId, { code: outcome.errorCode, fault: outcome.fault }))
    if (!source.onError) return failed(error, defaultAnswer())
    const onError = source.onError
    try {
      scope['error'] = { step, message: outcome.error, code: outcome.errorCode }
      return failed(error, mask.render(scope, (view) => onError.render(view)))
    } catch (err) {
      return failed(`${error}; on_error: ${mask.message(err)}`, defaultAnswer())
    }
  }
}

/** The longest error a failed poll keeps (an API may answer a page of HTML). */
const MAX_POLL_ERROR = 1000

/** What a run is kept with before it runs. */
interface NewRunStart {
  id: string
  pipeline: string
  receivedAt: string
  request: Masked<KeptRequest>
  shown: Masked<string> | undefined
  replayOf: string | undefined
  dedupeKey: string | undefined
  /** Masker.version when the request was kept: what the run learned after, `shown` is made again with. */
  maskVersion: number
}

/**
 * The run to insert: what it was kept with, and how it stands. Built field by field, as are the
 * other records on a request's path: in Node 20's V8 an object literal that spreads one object and
 * then adds fields took 2-5 µs (this one took 4.5 µs of intake's 85; bench/RESULTS-levers.md).
 */
function newRun(kept: NewRunStart, status: RunStatus, warnings: Masked<string[]> | undefined, ended: Partial<NewRun> = {}): NewRun {
  return {
    id: kept.id,
    pipeline: kept.pipeline,
    receivedAt: kept.receivedAt,
    request: kept.request,
    shown: kept.shown,
    replayOf: kept.replayOf,
    dedupeKey: kept.dedupeKey,
    status,
    warnings,
    error: ended.error,
    response: ended.response,
    finishedAt: ended.finishedAt,
    durationMs: ended.durationMs,
    duplicateOf: ended.duplicateOf,
  }
}

/** The digest of a request's dedupe key; none when the pipeline does not dedupe or the key is empty. */
function dedupeDigest(pipeline: CompiledPipeline, scope: Scope, warnings: string[]): string | undefined {
  const template = pipeline.source.dedupe
  if (template === undefined) return undefined
  try {
    const key = template.render(scope)
    return key === '' ? undefined : Deduplicator.digest(pipeline.id, key)
  } catch (err) {
    warnings.push(`the dedupe key could not be made (${err instanceof Error ? err.message : String(err)}): this request was not checked for duplicates`)
    return undefined
  }
}

/**
 * The first run's answer from the journal's copy: masked there, with the parts the operator
 * wrote (a header from `${ORIGIN}`) as the first caller got them (see restoreAnswer), from the
 * answer that run gave: its response when it went well or answered on receipt, else on_error.
 */
function keptAnswer(pipeline: CompiledPipeline, kept: SentAnswer, status: RunStatus, mask: Masker): Masked<Answer> {
  const answer = { status: kept.status, statusText: kept.status_text, headers: kept.headers, body: kept.body }
  const { source } = pipeline
  const given = status === 'ok' || source.respond === 'on_receipt' ? source.answer : source.onError
  return mask.render({}, () => (given ? restoreAnswer(answer, given, mask) : answer))
}

/** For a duplicate of a run that kept no answer: the source's answer when it needs no step, else 200. */
function fallbackAnswer(pipeline: CompiledPipeline, scope: Scope, mask: Masker): Masked<Answer> {
  try {
    return mask.render(scope, (view) => pipeline.source.answer.render(view))
  } catch {
    return maskAnswer(mask, { status: 200, headers: {}, body: '' })
  }
}

/** How a run answered on receipt ends: failed when a step failed or the answer could not be rendered. */
function afterEarlyAnswer(outcome: RunOutcome, early: EarlyAnswer, mask: Masker): Ending {
  const errors = [outcome.status === 'ok' ? undefined : stepError(outcome), early.error].filter((e) => e !== undefined)
  return { status: errors.length === 0 ? 'ok' : 'failed', error: errors.length === 0 ? undefined : mask.text(errors.join('; ')), answer: early.answer }
}

function failureSummary(pipeline: CompiledPipeline, runId: string, req: IncomingRequest, outcome: RunOutcome, error: string): FailureSummary {
  const response = outcome.failedResponse as { status?: number; body?: string } | undefined
  return {
    runId,
    pipeline: pipeline.id,
    pipelineName: pipeline.name,
    status: 'failed',
    receivedAt: req.receivedAt.toISOString(),
    step: outcome.failedStep,
    stepType: outcome.failedType,
    error,
    upstreamStatus: response?.status,
    // Shortened only now: the kept answer was masked whole.
    answer: typeof response?.body === 'string' ? answerExcerpt(response.body) : undefined,
  }
}

function stepError(outcome: RunOutcome): string {
  return `step '${outcome.failedStep ?? '?'}': ${outcome.error ?? 'failed'}`
}

/** The answer as the journal keeps it (the status text under its API name). */
function sentRecord(mask: Masker, answer: Masked<Answer>): Masked<SentAnswer> {
  const { status, statusText, headers, body } = answer
  return mask.value({ status, ...(statusText ? { status_text: statusText } : {}), headers, body })
}

/** The source's warnings, and a note when the run met more secret-named values than it learns. */
function runNotes(mask: Masker, warnings: readonly string[]): Masked<string[]> | undefined {
  const notes = [...warnings]
  const n = mask.overflow
  if (n > 0) {
    notes.push(
      `${n} ${n === 1 ? 'secret value was' : 'secret values were'} not learned ` +
        `(a run learns at most ${RUN_LEARNING.values} from its request, ${RUN_LEARNING.values} from what it sends and ${RUN_LEARNING.values} of its credentials, ` +
        `of ${FIELD_SECRET_MIN_LENGTH} to ${FIELD_SECRET_MAX_LENGTH} characters, within ${RUN_LEARNING.chars / 1024} KiB of search text each): ` +
        'masked where they sit under their names, not searched for elsewhere',
    )
  }
  return notes.length > 0 ? mask.value(notes) : undefined
}
