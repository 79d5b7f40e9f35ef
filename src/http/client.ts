/**
 * The outbound HTTP core that every calling action is built on: one total deadline per call
 * (connect, headers and a body that trickles in), bounded retries with backoff and jitter,
 * Retry-After within the deadline, no redirects, and a capped read of the answer.
 */
import { StringDecoder } from 'node:string_decoder'
import { EventEmitter } from 'node:events'
import { Agent, request, type Dispatcher } from 'undici'
import { formatDuration } from '../config/duration.js'
import { HookrelayError, hookrelayError, type ErrorCode } from '../errors.js'
import { BlockedAddressError, checkLiteral, guardedLookup, type LookupFunction } from './address-guard.js'
import type { StatusPattern } from './status-pattern.js'

export interface HttpCall {
  method: string
  url: URL
  headers: Record<string, string>
  body?: string | undefined
  timeoutMs: number
  retries: number
  success: StatusPattern
  /** The URL's origin came from data: only public addresses may be reached (the SSRF rule). */
  guard?: boolean | undefined
  /** Applied to an answer cut at the read limit (the run's masker drops a secret's first half there). */
  trimCut?: ((body: string) => string) | undefined
}

export interface HttpResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** True when the answer was longer than the read cap and only its start is kept. */
  truncated: boolean
}

export interface HttpResult {
  response: HttpResponse
  attempts: number
}

/** A failed call: the last answer (when there was one) and how many attempts were made. */
export class UpstreamError extends HookrelayError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly response: HttpResponse | undefined,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options)
    this.name = 'UpstreamError'
  }
}

export interface HttpClientOptions {
  dispatcher: Dispatcher
  /** Used for guarded calls: its connector refuses special addresses after DNS (see address-guard). */
  guardedDispatcher?: Dispatcher
  /** Bytes of an answer that are read; the rest is dropped and `truncated` set. */
  maxBodyBytes?: number
  /** First backoff delay; each retry doubles it, with jitter, up to `maxBackoffMs`. */
  baseBackoffMs?: number
  maxBackoffMs?: number
}

type Attempt = { response: HttpResponse; retryAfterMs: number | undefined } | { error: unknown }

export class HttpClient {
  readonly #dispatcher: Dispatcher
  readonly #guarded: Dispatcher
  readonly #maxBodyBytes: number
  readonly #baseBackoffMs: number
  readonly #maxBackoffMs: number

  constructor(options: HttpClientOptions) {
    this.#dispatcher = options.dispatcher
    this.#guarded = options.guardedDispatcher ?? new Agent({ connect: { lookup: guardedLookup() } })
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
    this.#baseBackoffMs = options.baseBackoffMs ?? 250
    this.#maxBackoffMs = options.maxBackoffMs ?? 5000
  }

  /** Sends `call`; resolves with a success answer or throws an UpstreamError. */
  async send(call: HttpCall, signal?: AbortSignal): Promise<HttpResult> {
    if (call.guard) {
      try {
        checkLiteral(call.url.hostname)
      } catch (err) {
        throw networkFailure(err, call, undefined, 0)
      }
    }
    const deadline = new Deadline(call.timeoutMs, signal)
    try {
      for (let attempt = 1; ; attempt++) {
        const result = await this.#attempt(call, deadline)
        if ('error' in result) {
          const failure = networkFailure(result.error, call, deadline, attempt)
          if (failure.code !== 'HR_UPSTREAM_NETWORK' || !retryableNetworkError(result.error)) throw failure
          if (attempt > call.retries || !(await this.#pause(attempt, undefined, deadline))) throw failure
          continue
        }
        const { response, retryAfterMs } = result
        if (call.success.matches(response.status)) return { response, attempts: attempt }
        const failure = statusFailure(response, call, attempt)
        const retryable = response.status === 429 || response.status >= 500
        if (!retryable || attempt > call.retries || !(await this.#pause(attempt, retryAfterMs, deadline))) throw failure
      }
    } finally {
      deadline.clear()
    }
  }

  async #attempt(call: HttpCall, signal: Deadline): Promise<Attempt> {
    try {
      const res = await request(call.url, {
        method: call.method as Dispatcher.HttpMethod,
        headers: call.headers,
        body: call.body,
        signal,
        dispatcher: call.guard ? this.#guarded : this.#dispatcher,
      })
      const { body, truncated } = await this.#read(res.body, res.headers['content-length'], call.trimCut)
      const headers = flattenHeaders(res.headers)
      return { response: { status: res.statusCode, headers, body, truncated }, retryAfterMs: parseRetryAfter(headers['retry-after']) }
    } catch (error) {
      return { error }
    }
  }

  /** Reads at most maxBodyBytes; a longer answer is cut and its connection dropped. */
  async #read(
    stream: Dispatcher.ResponseData['body'],
    length: string | string[] | undefined,
    trimCut: (body: string) => string = (body) => body,
  ): Promise<{ body: string; truncated: boolean }> {
    // The usual small answer with a declared length is read in one go.
    if (typeof length === 'string' && Number(length) <= this.#maxBodyBytes) return { body: await stream.text(), truncated: false }
    // By events, not `for await`: an async iterator costs a promise and an object per chunk.
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      stream.on('error', reject) // kept after a cut too: a late error then finds a listener, and changes nothing
      stream.on('end', () => resolve({ body: Buffer.concat(chunks).toString('utf8'), truncated: false }))
      stream.on('data', (chunk: Buffer) => {
        const room = this.#maxBodyBytes - size
        if (chunk.length <= room) {
          chunks.push(chunk)
          size += chunk.length
          return
        }
        chunks.push(chunk.subarray(0, room))
        stream.removeAllListeners('data').removeAllListeners('end')
        stream.destroy()
        // Only whole characters: a cut inside one would end the text in U+FFFD, and hide a secret's start from trimCut.
        resolve({ body: trimCut(new StringDecoder('utf8').write(Buffer.concat(chunks))), truncated: true })
      })
    })
  }

  /** Waits before the next attempt; false when the wait would cross the deadline. */
  async #pause(attempt: number, retryAfterMs: number | undefined, deadline: Deadline): Promise<boolean> {
    const backoff = Math.min(this.#maxBackoffMs, this.#baseBackoffMs * 2 ** (attempt - 1))
    const delay = retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2)
    if (Date.now() + delay >= deadline.at) return false
    return deadline.pause(delay)
  }
}

function statusFailure(response: HttpResponse, call: HttpCall, attempts: number): UpstreamError {
  const err = hookrelayError('HR_UPSTREAM_STATUS', [response.status, `expected ${call.success.source}`])
  return new UpstreamError(err.code, err.message, response, attempts)
}

function networkFailure(error: unknown, call: HttpCall, deadline: Deadline | undefined, attempts: number): UpstreamError {
  const blocked = findBlocked(error)
  const err = blocked
    ? hookrelayError('HR_ADDRESS_BLOCKED', [blocked.message])
    : deadline?.timedOut
      ? hookrelayError('HR_UPSTREAM_TIMEOUT', [formatDuration(call.timeoutMs)])
      : deadline?.stopped
        ? hookrelayError('HR_RUN_ABORTED')
        : hookrelayError('HR_UPSTREAM_NETWORK', [describeNetworkError(error)])
  return new UpstreamError(err.code, err.message, undefined, attempts, { cause: error })
}

/**
 * A call's total deadline and the run's stop signal as one signal for undici, which takes an
 * EventEmitter as well as an AbortSignal. An AbortController and a listener on the run's
 * AbortSignal for every call cost about 10 µs a call (npm run bench:client); an emitter, and one
 * listener per run signal for all its calls (see watch), cost about 1.
 */
class Deadline extends EventEmitter {
  readonly at: number
  readonly #timer: NodeJS.Timeout
  readonly #stop: AbortSignal | undefined
  /** Read by undici, as on an AbortSignal. */
  aborted = false
  reason: unknown
  timedOut = false
  stopped = false

  constructor(ms: number, stop?: AbortSignal) {
    super()
    this.at = Date.now() + ms
    this.#timer = setTimeout(() => {
      this.timedOut = true
      this.#abort(new Error('deadline'))
    }, ms)
    this.#stop = stop
    if (stop?.aborted) this.halt(stop.reason)
    else if (stop) watch(stop).add(this)
  }

  /** The run was stopped (the stop signal fired). */
  halt(reason: unknown): void {
    this.stopped = true
    this.#abort(reason ?? new Error('stopped'))
  }

  #abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.emit('abort')
  }

  /** Resolves after `ms`, or false at once when the call is aborted first. */
  pause(ms: number): Promise<boolean> {
    if (this.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(timer)
        resolve(false)
      }
      const timer = setTimeout(() => {
        this.off('abort', onAbort)
        resolve(true)
      }, ms)
      this.once('abort', onAbort)
    })
  }

  clear(): void {
    clearTimeout(this.#timer)
    if (this.#stop) watching.get(this.#stop)?.delete(this)
  }
}

/** The deadlines of the calls in flight under each stop signal (a run's, or the service's). */
const watching = new WeakMap<AbortSignal, Set<Deadline>>()

/** The calls watching `stop`; its one listener stops them all when it fires. */
function watch(stop: AbortSignal): Set<Deadline> {
  let calls = watching.get(stop)
  if (!calls) {
    const watched = new Set<Deadline>()
    calls = watched
    watching.set(stop, watched)
    stop.addEventListener('abort', () => {
      for (const deadline of watched) {
        try {
          deadline.halt(stop.reason)
        } catch {
          // a listener of this call failed: the others are stopped all the same
        }
      }
    }, { once: true })
  }
  return calls
}

function findBlocked(error: unknown): BlockedAddressError | undefined {
  for (let e = error; e instanceof Error; e = e.cause) if (e instanceof BlockedAddressError) return e
  return undefined
}

/** The innermost useful text of an undici/Node network error, e.g. "connect ECONNREFUSED 127.0.0.1:9". */
export function describeNetworkError(error: unknown): string {
  let e = error
  while (e instanceof Error && e.cause instanceof Error && !(e as NodeJS.ErrnoException).code) e = e.cause
  if (!(e instanceof Error)) return String(e)
  const code = (e as NodeJS.ErrnoException).code
  return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message
}

/** Errors after which the same request may succeed; a bad certificate or unknown host will not. */
function retryableNetworkError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? ''
  if (code === 'ENOTFOUND' || code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'UND_ERR_ABORTED') return false
  return !(error instanceof Error && error.name === 'AbortError')
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/**
 * The HTTP client the service uses: keep-alive pools per origin, and a second set for guarded
 * calls whose connector refuses special addresses. `lookup` replaces DNS (tests inject one).
 */
export function createHttpClient(options: { lookup?: LookupFunction } = {}): { http: HttpClient; close(): Promise<void> } {
  const lookup = options.lookup
  const agent = (connectLookup?: LookupFunction) =>
    new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connect: { timeout: 10_000, ...(connectLookup ? { lookup: connectLookup } : {}) } })
  const dispatcher = agent(lookup)
  const guardedDispatcher = agent(guardedLookup(lookup))
  return {
    http: new HttpClient({ dispatcher, guardedDispatcher }),
    close: async () => {
      await Promise.all([dispatcher.destroy(), guardedDispatcher.destroy()])
    },
  }
}
