/**
 * Request bodies: JSON, form-urlencoded and text, read once as bytes and kept raw for the
 * journal. Parsing never throws: a bad body comes back with `error`, so the run can be kept
 * as `rejected` with the bytes that arrived.
 */
import { parse as parseQueryString } from 'fast-querystring'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { hookrelayError, type HookrelayError } from '../errors.js'

export type BodyKind = 'none' | 'json' | 'form' | 'text'

export interface ParsedBody {
  kind: BodyKind
  raw: Buffer
  /** The body as text; undefined when it is not valid UTF-8. */
  text: string | undefined
  /** The parsed body: an object for JSON and forms, a string for text, null when absent or bad. */
  value: unknown
  /** Top-level fields that go into `in.*` (an object without prototype). */
  fields: Record<string, unknown>
  error?: HookrelayError
}

/** JSON deeper than this is refused before parsing: no legitimate webhook nests so deep. */
export const MAX_JSON_DEPTH = 64

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase()
}

/**
 * The kind of body a content type announces, or undefined when hookrelay does not read it.
 * The media type is compared without case and without its parameters, whatever white space
 * (spaces, tabs) surrounds them, so every spelling of one type is read the same way.
 */
export function bodyKind(contentType: string | undefined): BodyKind | undefined {
  // Senders repeat one content type over and over: remember the last answer.
  if (contentType === lastContentType) return lastKind
  lastKind = kindOf(contentType)
  lastContentType = contentType
  return lastKind
}

let lastContentType: string | undefined = '\u0000'
let lastKind: BodyKind | undefined

function kindOf(contentType: string | undefined): BodyKind | undefined {
  const type = mediaType(contentType)
  if (type === '') return 'none'
  if (JSON_TYPE.test(type)) return 'json'
  if (type === 'application/x-www-form-urlencoded') return 'form'
  if (type.startsWith('text/')) return 'text'
  return undefined
}

export function parseBody(raw: Buffer, contentType: string | undefined): ParsedBody {
  const kind = bodyKind(contentType)
  if (raw.length === 0) return { kind: 'none', raw, text: '', value: null, fields: Object.create(null) }
  if (kind === undefined) {
    const error = hookrelayError('HR_UNSUPPORTED_MEDIA_TYPE', [contentType ?? ''])
    return failed('text', raw, isUtf8(raw) ? raw.toString('utf8') : undefined, error)
  }
  let text: string
  try {
    text = utf8.decode(raw)
  } catch {
    return failed(kind, raw, undefined, hookrelayError('HR_BAD_ENCODING'))
  }
  if (kind === 'json') return parseJson(raw, text)
  if (kind === 'form') {
    const fields = ownFields(parseQueryString(text) as Record<string, unknown>)
    return { kind, raw, text, value: fields, fields }
  }
  return { kind: 'text', raw, text, value: text, fields: Object.create(null) }
}

function failed(kind: BodyKind, raw: Buffer, text: string | undefined, error: HookrelayError): ParsedBody {
  return { kind, raw, text, value: null, fields: Object.create(null), error }
}

function parseJson(raw: Buffer, text: string): ParsedBody {
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) return failed('json', raw, text, hookrelayError('HR_BODY_TOO_DEEP', [MAX_JSON_DEPTH]))
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return failed('json', raw, text, hookrelayError('HR_BAD_JSON', [describeJsonError(err)]))
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return failed('json', raw, text, hookrelayError('HR_BODY_NOT_OBJECT', [describeJson(value)]))
  }
  // JSON.parse defines every key, even `__proto__`, as a plain own property: reading the object
  // is safe, and no copy is needed (copying 100,000 keys costs more than parsing them).
  return { kind: 'json', raw, text, value, fields: value as Record<string, unknown> }
}

/**
 * JSON.parse's complaint without the excerpt of the text that V8 quotes: that excerpt is cut
 * short, and a cut secret can no longer be recognised and masked.
 */
export function describeJsonError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const quoted = message.indexOf('"')
  return quoted === -1 ? message : `${message.slice(0, quoted).replace(/[\s,]+$/, '')}: not valid JSON`
}

function isUtf8(raw: Buffer): boolean {
  try {
    utf8.decode(raw)
    return true
  } catch {
    return false
  }
}

/** Copies own fields into an object without prototype: no key, not even `__proto__`, reaches one. */
export function ownFields(source: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(source)) out[key] = source[key]
  return out
}

/** True when brackets outside strings nest deeper than `max`; one pass, no recursion. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      i = stringEnd(text, i + 1)
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--
  }
  return false
}

/** The index of the quote closing a string that starts at `from` (jumping, not stepping). */
function stringEnd(text: string, from: number): number {
  for (let i = from; ; ) {
    const quote = text.indexOf('"', i)
    if (quote === -1) return text.length
    let slashes = 0
    while (text.charCodeAt(quote - 1 - slashes) === 92 /* \ */) slashes++
    if (slashes % 2 === 0) return quote
    i = quote + 1
  }
}

function describeJson(value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return `a ${typeof value}`
}

/**
 * Registers the body parser of a Fastify scope: one for every content type, forms too, reading
 * the bytes as they came, so that every spelling of a content type is read alike, a body that is
 * not valid UTF-8 is kept byte for byte (as base64) and refused, and an unsupported type is still
 * kept, as a rejected run with its bytes (415). (@fastify/formbody decodes a form to text before
 * any parser sees it, replacing invalid UTF-8 with U+FFFD: the bytes were lost.)
 */
export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req: FastifyRequest, body: Buffer, done: (err: null, body: ParsedBody) => void) =>
    done(null, parseBody(body, req.headers['content-type'])),
  )
}
