/**
 * The integrations' common layer on the HTTP core: their `base_url`, and reading a service's
 * answer into outputs or into the service's own error message (also from a non-2xx answer).
 */
import { Type } from '@sinclair/typebox'
import { hookrelayError } from '../errors.js'
import { UpstreamError, type HttpClient, type HttpResponse } from '../http/client.js'
import type { Masker } from '../secrets/masker.js'
import { callProperties, callUpstream, compileCallOptions, type CallOptions, type OutgoingRequest } from './http-call.js'
import type { BuildContext, StepContext, StepOutput } from './types.js'

/** What an integration makes of an answer: its outputs, or the service's own complaint. */
export type Reading = { output: StepOutput } | { error: string }

export interface Service {
  /** The service's name in messages, e.g. "Bizon365". */
  name: string
  /** Outputs or the service's complaint; `mask` is for quoting the answer (see excerpt). */
  read(response: HttpResponse, mask: Masker): Reading
}

/** The keys every integration has besides its own: where the service is, and the call's tuning. */
export function serviceProperties(defaultBaseUrl: string) {
  return {
    base_url: Type.Optional(
      Type.String({ pattern: '^https?://[^\\s]+$', hint: 'an http(s) URL', description: `The service's address; default ${defaultBaseUrl}. For tests and proxies.` }),
    ),
    ...callProperties,
  }
}

export function compileServiceOptions(params: { timeout?: string | number | undefined; retries?: number | undefined }, build: BuildContext): CallOptions {
  return compileCallOptions({ timeout: params.timeout, retries: params.retries }, build)
}

/** `base` + `path`, keeping a path prefix a proxy may have in `base`. */
export function serviceUrl(base: string, path: string): URL {
  return new URL(base.replace(/\/+$/, '') + path)
}

/** Sends the request; returns the outputs, or fails the step with the service's own message. */
export async function callService(service: Service, http: HttpClient, req: OutgoingRequest, options: CallOptions, ctx: StepContext): Promise<StepOutput> {
  let response: HttpResponse
  try {
    response = await callUpstream(http, req, options, ctx)
  } catch (err) {
    const reading = err instanceof UpstreamError && err.response ? service.read(err.response, ctx.mask) : undefined
    if (reading && 'error' in reading) throw serviceError(service, err as UpstreamError, reading.error)
    throw err
  }
  const reading = service.read(response, ctx.mask)
  if ('error' in reading) {
    const err = hookrelayError('HR_SERVICE_ERROR', [service.name, response.status, reading.error])
    throw new UpstreamError(err.code, err.message, response, 1)
  }
  return reading.output
}

function serviceError(service: Service, cause: UpstreamError, message: string): UpstreamError {
  const err = hookrelayError('HR_SERVICE_ERROR', [service.name, cause.response?.status ?? '?', message])
  return new UpstreamError(err.code, err.message, cause.response, cause.attempts, { cause })
}

/** Form fields for a service: values rendered to text, empty optional ones left out. */
export function formFields(fields: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue
    const text = typeof value === 'boolean' ? (value ? '1' : '0') : typeof value === 'object' ? JSON.stringify(value) : String(value)
    if (text !== '') out[name] = text
  }
  return out
}

/** The first characters of an answer, for a message about it: masked whole first (as a body), then shortened. */
export function excerpt(body: string, mask: Masker): string {
  const flat = mask.body(body).replace(/\s+/g, ' ').trim()
  if (flat === '') return '(an empty body)'
  return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat
}

/** The keys of `params` that are set, among `keys`. */
export function pick(params: object, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of keys) {
    const value = (params as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  return out
}
