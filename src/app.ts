/**
 * Starting the whole service (config, logger, journal with crash recovery and retention,
 * letters, server) and stopping it gracefully: new requests get 503, runs in flight get the
 * grace period, letters due are flushed, the journal is closed.
 */
import type { FastifyInstance } from 'fastify'
import { baseUrl } from './cli/urls.js'
import { loadConfig, type LoadedConfig } from './config/load.js'
import type { LookupFunction } from './http/address-guard.js'
import { createHttpClient } from './http/client.js'
import { openDatabase, type Db } from './journal/db.js'
import { Journal } from './journal/journal.js'
import { Pruner } from './journal/retention.js'
import { BatchWriter } from './journal/writer.js'
import { createLogger, type Log, type LoggerOptions } from './log.js'
import type { InterruptedRun } from './journal/runs.js'
import type { LetterContext } from './notify/letters.js'
import { Notifier, type NotifierOptions } from './notify/notifier.js'
import { Executor } from './pipeline/executor.js'
import { buildServer, type Lifecycle } from './server.js'

export interface StartOptions {
  configPath: string
  env?: NodeJS.ProcessEnv
  log?: LoggerOptions
  /** Replaces DNS for outgoing calls (tests inject a failing one, so no query leaves the machine). */
  lookup?: LookupFunction
  /** Letter retry pacing; tests shorten it. */
  letters?: Pick<NotifierOptions, 'retryBaseMs' | 'sendTimeoutMs'>
}

export interface RunningService {
  app: FastifyInstance
  loaded: LoadedConfig
  /** The address the server listens on, e.g. http://127.0.0.1:8080. */
  address: string
  /** The journal's reading connection and its writer thread, for diagnostics and fault tests. */
  db: Db
  writer: BatchWriter
  /** Graceful stop; resolves when everything is closed. */
  close(): Promise<void>
}

/** After the grace period, aborted runs get this long to record how they ended. */
const ABORT_SETTLE_MS = 2000
const LETTER_FLUSH_MS = 2000

/** Loads the config (throwing ConfigError when it is invalid), opens the journal and listens. */
export async function startService(options: StartOptions): Promise<RunningService> {
  const { http, close: closeHttp } = createHttpClient({ lookup: options.lookup })
  const loaded = loadConfig({ path: options.configPath, env: options.env ?? process.env, http })
  const log = createLogger(loaded.masker, options.log)
  for (const warning of loaded.warnings) log.warn({ warning }, 'config warning')

  const db = openDatabase(loaded.settings.journalPath)
  const writer = await BatchWriter.open(loaded.settings.journalPath, log)
  const journal = new Journal(db, writer)
  const interrupted = recover(journal, log) // before listening: only a previous process's runs are `running`
  const letters = { baseUrl: baseUrl(loaded) }
  const notifier = createNotifier(loaded, db, writer, log, letters, options)
  const pruner = new Pruner(db, log, { retentionDays: loaded.settings.retentionDays })
  pruner.start()

  const executor = new Executor({ journal, masker: loaded.masker, log, onFailure: notifier && ((s) => notifier.report(s)) })
  const lifecycle: Lifecycle = { closing: false }
  const app = await buildServer({ settings: loaded.settings, pipelines: loaded.pipelines, journal, executor, log, lifecycle })

  const release = async () => {
    await pruner.stop()
    await notifier?.close(LETTER_FLUSH_MS)
    await journal.close()
    loaded.mailer?.close()
    await closeHttp()
  }
  let address: string
  try {
    address = await app.listen({ host: loaded.settings.host, port: loaded.settings.port })
  } catch (err) {
    await release()
    throw err
  }
  log.info({ address, pipelines: loaded.pipelines.length, journal: loaded.settings.journalPath }, 'hookrelay listening')
  if (!loaded.settings.publicUrl) letters.baseUrl = address // the curl in letters names the real port
  notifier?.start()
  if (notifier) reportInterrupted(interrupted, loaded, notifier)

  let closing: Promise<void> | undefined
  return {
    app,
    loaded,
    address,
    db,
    writer,
    close() {
      closing ??= (async () => {
        lifecycle.closing = true // new requests now get 503
        if (!(await executor.idle(loaded.settings.shutdownGraceMs))) {
          log.warn({ graceMs: loaded.settings.shutdownGraceMs }, 'grace period over: stopping runs in flight')
          executor.abort()
          await executor.idle(ABORT_SETTLE_MS)
        }
        await app.close()
        await release()
        log.info({}, 'hookrelay stopped')
        await new Promise<void>((resolve) => log.flush(() => resolve())) // the log is buffered
      })()
      return closing
    },
  }
}

function createNotifier(loaded: LoadedConfig, db: Db, writer: BatchWriter, log: Log, letter: LetterContext, options: StartOptions): Notifier | undefined {
  const email = loaded.config.notify?.email
  if (!email || !loaded.mailer) return undefined
  return new Notifier(
    { db, writer, mailer: loaded.mailer, masker: loaded.masker, log },
    { to: email.to, minIntervalMs: loaded.settings.minIntervalMs, letter, ...options.letters },
  )
}

/** Runs a previous process left `running` become `interrupted`. */
function recover(journal: Journal, log: Log): InterruptedRun[] {
  const runs = journal.recoverInterrupted()
  for (const run of runs) log.warn({ runId: run.id, pipeline: run.pipeline, step: run.step_id }, 'run interrupted by the previous stop')
  return runs
}

/** Each interrupted run gets a letter, unless its pipeline is silenced. */
function reportInterrupted(runs: InterruptedRun[], loaded: LoadedConfig, notifier: Notifier): void {
  const pipelines = new Map(loaded.pipelines.map((p) => [p.id, p]))
  for (const run of runs) {
    const pipeline = pipelines.get(run.pipeline)
    if (pipeline?.notify === false) continue
    notifier.report({
      runId: run.id,
      pipeline: run.pipeline,
      pipelineName: pipeline?.name ?? run.pipeline,
      status: 'interrupted',
      receivedAt: run.received_at,
      step: run.step_id ?? undefined,
      stepType: run.step_type ?? undefined,
      error: run.error,
    })
  }
}
