/**
 * Sources without a URL (vk_ads.leads) are asked for new events every `interval`: one run per
 * event, each kept before the cursor moves past it, so a restart neither loses nor repeats one
 * (the cursor remembers the ids it took near its end, which are asked for again). The first poll
 * of a pipeline only takes note of the events already there: those after them run. A poll that
 * fails is kept as a failed run and reported like one; the next tries come later and later (up
 * to half an hour), so an outage is a few runs and a digest letter, not one every minute.
 */
import { HookrelayError, hookrelayError } from '../errors.js'
import { describeNetworkError, UpstreamError } from '../http/client.js'
import type { Journal } from '../journal/journal.js'
import type { Log } from '../log.js'
import type { CompiledPipeline } from '../pipeline/compile.js'
import type { Executor } from '../pipeline/executor.js'
import { parseBody } from './body.js'
import type { IncomingRequest } from './incoming.js'

const MAX_BACKOFF_MS = 30 * 60_000

export interface PollerDeps {
  pipelines: readonly CompiledPipeline[]
  executor: Executor
  journal: Journal
  log: Log
}

/** A pipeline being polled: the latest compiled one (a reload may change its actions), and its schedule. */
interface Polling {
  pipeline: CompiledPipeline
  timer: NodeJS.Timeout | undefined
}

export class Pollers {
  readonly #deps: PollerDeps
  /** By pipeline id. An entry replaced or removed ends its schedule (a poll under way finishes). */
  readonly #polling = new Map<string, Polling>()
  readonly #abort = new AbortController()
  readonly #running = new Set<Promise<void>>()
  #stopped = false

  constructor(deps: PollerDeps) {
    this.#deps = deps
  }

  /** Polls every enabled polling pipeline now, then every interval. */
  start(): void {
    for (const pipeline of polled(this.#deps.pipelines)) this.#begin(pipeline)
  }

  /**
   * A reload's pipelines. A poller that asks the same thing as before keeps its schedule and
   * backoff (the next poll runs the new actions); a changed or new one polls now; a removed
   * one stops.
   */
  replace(pipelines: readonly CompiledPipeline[]): void {
    if (this.#stopped) return
    const next = new Map(polled(pipelines).map((p) => [p.id, p]))
    for (const [id, entry] of this.#polling) {
      const now = next.get(id)
      if (now && now.source.poller!.signature === entry.pipeline.source.poller!.signature) {
        entry.pipeline = now
        next.delete(id)
      } else {
        clearTimeout(entry.timer)
        this.#polling.delete(id)
      }
    }
    for (const pipeline of next.values()) this.#begin(pipeline)
  }

  /** Stops polling; a poll under way is stopped and waited for (the runs it started are the executor's). */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const entry of this.#polling.values()) clearTimeout(entry.timer)
    this.#abort.abort()
    await Promise.allSettled([...this.#running])
  }

  #begin(pipeline: CompiledPipeline): void {
    const entry: Polling = { pipeline, timer: undefined }
    this.#polling.set(pipeline.id, entry)
    this.#schedule(entry, 0, 0)
  }

  #schedule(entry: Polling, delayMs: number, failures: number): void {
    if (this.#stopped || this.#polling.get(entry.pipeline.id) !== entry) return
    entry.timer = setTimeout(() => {
      const { pipeline } = entry
      // Whatever happens in a poll, the next one is scheduled: a poller never stops on its own.
      const poll = this.#poll(pipeline)
        .catch((err: unknown) => {
          this.#deps.log.error({ err, pipeline: pipeline.id }, 'a poll failed inside hookrelay; the next one asks again')
          return false
        })
        .then((ok) => {
          const next = ok ? 0 : failures + 1
          const interval = pipeline.source.poller!.intervalMs
          this.#schedule(entry, ok ? interval : Math.min(MAX_BACKOFF_MS, interval * 2 ** next), next)
        })
      this.#running.add(poll)
      void poll.finally(() => this.#running.delete(poll))
    }, delayMs)
    entry.timer.unref()
  }

  /** One poll: true when it got through (whatever it found), false when it failed. */
  async #poll(pipeline: CompiledPipeline): Promise<boolean> {
    const poller = pipeline.source.poller!
    const { journal, executor, log } = this.#deps
    const cursor = journal.cursor(pipeline.id)
    const receivedAt = new Date()
    let polled
    try {
      polled = await poller.poll(cursor, this.#abort.signal)
    } catch (err) {
      if (this.#stopped) return true
      const shown = poller.describe(cursor)
      const request: IncomingRequest = { ...shown, headers: {}, body: parseBody(Buffer.alloc(0), undefined), receivedAt }
      await executor.keepFailedPoll(pipeline, request, pollError(err)).catch((e: unknown) => log.error({ err: e, pipeline: pipeline.id }, 'a failed poll could not be kept'))
      return false
    }
    try {
      for (const lead of polled.leads) {
        if (this.#stopped) return true // the cursor stays: the next start asks again, and the kept ones are duplicates
        const request: IncomingRequest = {
          method: 'GET',
          path: poller.describe(cursor).path,
          query: {},
          headers: { 'content-type': 'application/json' },
          body: parseBody(Buffer.from(JSON.stringify(lead)), 'application/json'),
          receivedAt: new Date(),
        }
        // Once kept, the next one: a run going on does not hold the others up.
        await new Promise<void>((resolve, reject) => {
          executor.receive(pipeline, request, { respondEarly: () => resolve() }).then(() => resolve(), reject)
        })
      }
      if (polled.cursor !== cursor) await journal.setCursor(pipeline.id, polled.cursor)
      if (polled.first) log.info({ pipeline: pipeline.id, noted: polled.noted }, 'first poll: the events already there are noted, not run; those after them will run')
      else if (polled.leads.length > 0) log.info({ pipeline: pipeline.id, leads: polled.leads.length }, 'poll kept new events')
      return true
    } catch (err) {
      log.error({ err, pipeline: pipeline.id }, 'the journal could not keep a polled event; the next poll asks again')
      return false
    }
  }
}

function polled(pipelines: readonly CompiledPipeline[]): CompiledPipeline[] {
  return pipelines.filter((p) => p.source.poller && p.enabled)
}

/** What went wrong with a poll, in the words the journal and the letter use (the answer is shortened after masking, when kept). */
function pollError(err: unknown): HookrelayError {
  if (err instanceof UpstreamError && err.response) {
    const body = err.response.body.replace(/\s+/g, ' ').trim()
    return hookrelayError('HR_SERVICE_ERROR', ['VK Ads', err.response.status, body === '' ? '(an empty body)' : body])
  }
  if (err instanceof HookrelayError) return err
  return hookrelayError('HR_UPSTREAM_NETWORK', [describeNetworkError(err)])
}
