/**
 * Logging: pino JSON lines (pretty only on a TTY). Every line passes through the config's
 * masker (pino's streamWrite hook) before it is written, so no secret of the config reaches the
 * log whatever code logged it; what a run adds to a line (its error) is masked by the run.
 */
import { pino, type BaseLogger, type DestinationStream, type Logger } from 'pino'
import type { Masker } from './secrets/masker.js'
import { hideRequestTarget } from './secrets/urls.js'

/** What our modules need of a logger; both pino's and Fastify's request loggers fit. */
export type Log = Pick<BaseLogger, 'info' | 'warn' | 'error' | 'debug'>

export interface LoggerOptions {
  level?: string
  /** Where lines go; default stdout (see prettyDestination for a terminal). */
  destination?: NodeJS.WritableStream
}

export function createLogger(masker: Masker, options: LoggerOptions = {}): Logger {
  // stdout through sonic-boom, asynchronous: lines logged while a write is under way go out together.
  const target: DestinationStream = options.destination ?? pino.destination({ dest: 1, sync: false })
  return pino(
    {
      level: options.level ?? 'info',
      hooks: { streamWrite: (line: string) => masker.text(line) },
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string }) => ({ method: req.method, url: hideRequestTarget(req.url ?? ''), remoteAddress: req.ip }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
      redact: { paths: ['headers.authorization', 'headers.cookie', 'headers["x-token"]', 'token', 'key', 'secure'], censor: '***' },
    },
    target,
  )
}

/** Human-readable lines for a terminal; pino-pretty is only loaded then (the image logs JSON). */
export async function prettyDestination(): Promise<NodeJS.WritableStream> {
  const { default: pinoPretty } = await import('pino-pretty')
  return pinoPretty({ destination: 1, colorize: true, translateTime: 'SYS:standard', ignore: 'pid,hostname' })
}
