/**
 * Logging: pino JSON lines (pretty only on a TTY). Every line passes through the masker
 * before it is written, so no secret reaches the log whatever code logged it.
 */
import { Writable } from 'node:stream'
import { pino, type BaseLogger, type DestinationStream, type Logger } from 'pino'
import pinoPretty from 'pino-pretty'
import type { Masker } from './mask.js'
import { maskHookPath } from './mask.js'

/** What our modules need of a logger; both pino's and Fastify's request loggers fit. */
export type Log = Pick<BaseLogger, 'info' | 'warn' | 'error' | 'debug'>

export interface LoggerOptions {
  level?: string
  /** Where lines go; default stdout. */
  destination?: NodeJS.WritableStream
  pretty?: boolean
}

export function createLogger(masker: Masker, options: LoggerOptions = {}): Logger {
  const out = options.destination ?? process.stdout
  const target = options.pretty ? prettyStream(out) : out
  return pino(
    {
      level: options.level ?? 'info',
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string }) => ({ method: req.method, url: maskHookPath(req.url ?? ''), remoteAddress: req.ip }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
      redact: { paths: ['headers.authorization', 'headers.cookie', 'headers["x-token"]', 'token', 'key', 'secure'], censor: '***' },
    },
    maskingStream(masker, target),
  )
}

/** A line-by-line destination that masks secrets before passing lines on. */
function maskingStream(masker: Masker, target: NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      target.write(masker.text(chunk.toString('utf8')))
      callback()
    },
  })
}

function prettyStream(out: NodeJS.WritableStream): NodeJS.WritableStream {
  return pinoPretty({ destination: out as never, colorize: true, translateTime: 'SYS:standard', ignore: 'pid,hostname' })
}
