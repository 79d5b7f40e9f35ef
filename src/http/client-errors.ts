/**
 * Requests Node's HTTP parser refuses before Fastify sees them. A request whose only fault is a
 * request target with raw UTF-8 or spaces (a sender that does not percent-encode) is encoded and
 * parsed again, on the same connection. Every other refusal (headers too large, smuggling
 * attempts such as Content-Length with Transfer-Encoding, a body that never comes ...) gets our
 * JSON error written straight to the socket, is counted by reason, logged (a few a minute), and
 * kept as a rejected run when its request line names a pipeline and its key.
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { formatDuration } from '../config/duration.js'
import { hookrelayError, type HookrelayError } from '../errors.js'
import type { Log } from '../log.js'
import type { Masked, Masker } from '../secrets/masker.js'
import { hideRequestTarget } from '../secrets/urls.js'
import { errorAnswer, maskAnswer, type Answer } from '../sources/answer.js'
import { detach, handBack, parseAgain } from './parse-again.js'
import { encodeRequestTarget, readRequestLine, startsRequestLine, type RequestLine } from './request-line.js'

export const MAX_HEADER_BYTES = 16 * 1024

/** Keeps a refused request whose line names a pipeline and its key; undefined when it names none. */
export type KeepRefused = (line: RequestLine, err: HookrelayError) => Promise<{ answer: Masked<Answer>; runId?: string }> | undefined

export interface ClientErrorOptions {
  requestTimeoutMs: number
  log: Log
  masker: Masker
  refusals: ParserRefusals
  keep: KeepRefused
}

/** What the parser refused, by reason, and how many targets were encoded; for /healthz. */
export class ParserRefusals {
  readonly byReason: Record<string, number> = {}
  targetsEncoded = 0

  count(reason: string): void {
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1
  }
}

type ParserError = NodeJS.ErrnoException & { rawPacket?: Buffer; bytesParsed?: number }

export function clientErrorHandler(options: ClientErrorOptions): (error: Error, socket: Socket) => void {
  const logRefusal = rateLimited(options.log, LOG_PER_MINUTE)
  /** Sockets already refused: Node's parser keeps failing on what follows; that is not counted again, nor repaired. */
  const refused = new WeakSet<Socket>()
  const refuse = (err: ParserError, socket: Socket, line: RequestLine | undefined) => {
    refused.add(socket)
    detach(socket) // nothing more is read from it: it gets its answer, then closes
    socket.pause()
    const reason = err.code ?? 'unknown'
    options.refusals.count(reason)
    const error = toError(err, options.requestTimeoutMs)
    const shown = line ? options.masker.text(`${line.method} ${hideRequestTarget(line.target)}`) : undefined
    logRefusal({ reason, line: shown, remoteAddress: socket.remoteAddress }, 'request refused by the HTTP parser')
    const kept = line ? options.keep(line, error) : undefined
    if (!kept) return answer(socket, maskAnswer(options.masker, errorAnswer(error)))
    kept.then(
      (result) => answer(socket, result.answer, result.runId),
      (failure: unknown) => {
        options.log.error({ err: failure }, 'a refused request could not be kept')
        const unavailable = errorAnswer(hookrelayError('HR_JOURNAL_UNAVAILABLE'))
        answer(socket, maskAnswer(options.masker, { ...unavailable, headers: { ...unavailable.headers, 'retry-after': '5' } }))
      },
    )
  }

  return (thrown, socket) => {
    const err = thrown as ParserError // rawPacket is a Buffer (Fastify's types say otherwise)
    if (refused.has(socket)) return
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const packet = err.rawPacket
    const line = packet ? readRequestLine(packet) : undefined
    if (packet && line && inRequestLine(err, line)) {
      const encoded = encodeRequestTarget(packet)
      if (encoded && parseAgain(socket, encoded)) {
        options.refusals.targetsEncoded++
        return
      }
    }
    // The packet ended inside the request line: the rest of it is on its way.
    if (packet && !line && startsRequestLine(packet) && detach(socket)) {
      return completeLine(socket, packet, options.requestTimeoutMs, (bytes) => {
        const encoded = encodeRequestTarget(bytes)
        if (!encoded) return refuse(err, socket, readRequestLine(bytes))
        options.refusals.targetsEncoded++
        handBack(socket, encoded)
      })
    }
    // The line at the packet's start is this request's only when the parser stopped in its head:
    // past it, the refused request is a later one (pipelined), and that line was served already.
    refuse(err, socket, line && packet && inFirstHead(err, packet) ? line : undefined)
  }
}

function inFirstHead(err: ParserError, packet: Buffer): boolean {
  const headEnd = packet.indexOf('\r\n\r\n')
  return headEnd === -1 || (typeof err.bytesParsed === 'number' && err.bytesParsed <= headEnd + 4)
}

/**
 * Reads a detached socket until the request line that `packet` begins is complete (at most
 * MAX_HEADER_BYTES, within the request timeout), then calls `done` with every byte so far;
 * with the bytes as they are when the line does not complete.
 */
function completeLine(socket: Socket, packet: Buffer, timeoutMs: number, done: (bytes: Buffer) => void): void {
  let bytes = packet
  const stop = () => {
    clearTimeout(timer)
    socket.pause()
    socket.removeListener('data', onData)
    socket.removeListener('end', finish)
    socket.removeListener('close', gone)
  }
  const finish = () => {
    stop()
    done(bytes)
  }
  // The sender went away: nothing to answer, nothing to count.
  const gone = () => stop()
  const onData = (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk])
    if (bytes.includes('\r\n') || bytes.length > MAX_HEADER_BYTES) finish()
  }
  const timer = setTimeout(finish, timeoutMs)
  socket.on('data', onData)
  socket.on('end', finish)
  socket.on('close', gone)
}

/** The parser stopped inside the request line, not in a header after it. */
function inRequestLine(err: ParserError, line: RequestLine): boolean {
  return typeof err.bytesParsed === 'number' && err.bytesParsed <= line.end + 2
}

/** Writes the answer as a whole HTTP response and closes the connection (the rest of it cannot be trusted). */
function answer(socket: Socket, answer: Masked<Answer>, runId?: string): void {
  // As Node does: nothing is written into the middle of an answer already going out on this connection.
  const inFlight = (socket as Socket & { _httpMessage?: { _headerSent?: boolean } })._httpMessage
  if (!socket.writable || inFlight?._headerSent) return void socket.destroy()
  const headers: Record<string, string> = { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)), connection: 'close' }
  if (runId) headers['x-hookrelay-run'] = runId
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  // Then closed: the connection is taken off Node's parser, so nothing else would ever close it.
  socket.end(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n${head}\r\n${answer.body}`, () => socket.destroy())
}

/** The parser's reasons in plain words; others are named by their code. */
const REASONS: Record<string, string> = {
  HPE_INVALID_TRANSFER_ENCODING: 'a Transfer-Encoding that cannot be used here (with Content-Length it is a request smuggling pattern)',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length together with Transfer-Encoding (a request smuggling pattern)',
  HPE_INVALID_CONTENT_LENGTH: 'a Content-Length that is not one number',
  HPE_INVALID_HEADER_TOKEN: 'a header with a character HTTP does not allow',
  HPE_INVALID_METHOD: 'an unknown HTTP method',
  HPE_INVALID_URL: 'a request target with a character HTTP does not allow',
  HPE_INVALID_CONSTANT: 'a request line that is not METHOD TARGET HTTP/1.1',
  HPE_INVALID_VERSION: 'a request line that is not METHOD TARGET HTTP/1.1, or lines that do not end with CRLF',
  HPE_CR_EXPECTED: 'lines that do not end with CRLF',
  HPE_LF_EXPECTED: 'lines that do not end with CRLF',
  HPE_INVALID_CHUNK_SIZE: 'a chunk size that is not a hexadecimal number',
}

function toError(err: ParserError, requestTimeoutMs: number): HookrelayError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return hookrelayError('HR_HEADERS_TOO_LARGE', [MAX_HEADER_BYTES])
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return hookrelayError('HR_REQUEST_TIMEOUT', [formatDuration(requestTimeoutMs)])
  const code = err.code ?? 'parse error'
  return hookrelayError('HR_BAD_REQUEST', [`malformed HTTP request: ${REASONS[code] ?? 'the HTTP parser refused it'} (${code})`])
}

/** At most this many refusal lines a minute; the rest are summed up in the next minute's first line. */
const LOG_PER_MINUTE = 10

function rateLimited(log: Log, perMinute: number): (fields: Record<string, unknown>, message: string) => void {
  let logged = 0
  let skipped = 0
  let window: NodeJS.Timeout | undefined
  return (fields, message) => {
    // A minute's window starts with its first line; at its end, what was left out is counted.
    window ??= setTimeout(() => {
      if (skipped > 0) log.info({ skipped }, 'more requests were refused by the HTTP parser than were logged in the last minute')
      logged = 0
      skipped = 0
      window = undefined
    }, 60_000).unref()
    if (logged >= perMinute) {
      skipped++
      return
    }
    logged++
    log.info(fields, message)
  }
}
