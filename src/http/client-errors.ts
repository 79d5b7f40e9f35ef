/**
 * Answers to requests Node's HTTP parser refuses before Fastify sees them (headers too large,
 * smuggling attempts such as Content-Length with Transfer-Encoding, a body that never comes),
 * written straight to the socket in our JSON error format.
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { formatDuration } from '../config/duration.js'
import { hookrelayError, type HookrelayError } from '../errors.js'

export const MAX_HEADER_BYTES = 16 * 1024

export function clientErrorHandler(requestTimeoutMs: number): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const answer = toError(err, requestTimeoutMs)
    const body = JSON.stringify({ error: answer.message, code: answer.code })
    socket.end(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
}

function toError(err: NodeJS.ErrnoException, requestTimeoutMs: number): HookrelayError {
  if (err.code === 'HPE_HEADER_OVERFLOW') return hookrelayError('HR_HEADERS_TOO_LARGE', [MAX_HEADER_BYTES])
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return hookrelayError('HR_REQUEST_TIMEOUT', [formatDuration(requestTimeoutMs)])
  return hookrelayError('HR_BAD_REQUEST', [`malformed HTTP request (${err.code ?? 'parse error'})`])
}
