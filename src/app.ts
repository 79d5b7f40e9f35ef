/**
 * Starting the whole service (config, logger, journal with crash recovery and retention,
 * letters, server) and stopping it gracefully: new requests get 503, runs in flight get the
 * grace period, letters due are flushed, the journal is closed.
 */
import type { FastifyInstance } from 'fastify'
import { resolve } from 'node:path'
import ipaddr from 'ipaddr.js'
import { baseUrl } from './cli/urls.js'
import { loadConfig, type LoadedConfig } from './config/load.js'
import type { Config } from './config/schema.js'
import { ConfigError } from './config/problems.js'
import type { LookupFunction } from './http/address-guard.js'
import { createHttpClient } from './http/client.js'
import { HookrelayError } from './errors.js'
import { openDatabase, type Db } from './journal/db.js'
import { Journal } from './journal/journal.js'
import { JournalLock } from './journal/lock.js'
import { Pruner } from './journal/retention.js'
import { BatchWriter, type WriterOptions } from './journal/writer.js'
import { createLogger, type Log, type LoggerOptions } from './log.js'
import type { LetterContext } from './notify/letters.js'
import { Notifier, type NotifierOptions } from './notify/notifier.js'
import { Metrics } from './metrics.js'
import { Executor } from './pipeline/executor.js'
import { PipelineSet } from './pipeline/pipeline-set.js'
import { Pollers } from './sources/pollers.js'
import { buildServer, type Lifecycle } from './server.js'
import { currentUser, listenFailure, StartError } from './start-error.js'

export interface StartOptions {
  configPath: string
  env?: NodeJS.ProcessEnv
  log?: LoggerOptions
  /** Replaces DNS for outgoing calls (tests inject a failing one, so no query leaves the machine). */
  lookup?: LookupFunction
  /** Letter retry pacing; tests shorten it. */
  letters?: Pick<NotifierOptions, 'retryBaseMs' | 'sendTimeoutMs'>
  /** The journal writer's bound on work waiting and its lock wait; tests make them small. */
  writer?: Pick<WriterOptions, 'maxPendingOps' | 'maxPendingBytes' | 'busyTimeoutMs'>
  /**
   * The service cannot go on (the journal writer died for good): it has logged why. The CLI
   * exits non-zero here, so that the supervisor (systemd, Docker) starts it again.
   */
  onFatal?: (err: Error) => void
}

export interface ReloadOutcome {
  reloaded: boolean
  /** Why not, when not: the config's problems, located. */
  problems: string[]
  /** Changed settings kept until a restart (host, port, journal path ...). */
  needsRestart?: string[]
}

export interface RunningService {
  app: FastifyInstance
  /** The config being served (a reload replaces it). */
  readonly loaded: LoadedConfig
  /** The address the server listens on, e.g. http://127.0.0.1:8080. */
  address: string
  /** The journal's reading connection and its writer thread, for diagnostics and fault tests. */
  db: Db
  writer: BatchWriter
  /** Reads the config file again (SIGHUP): see ReloadOutcome. Never throws for a bad file. */
  reload(): Promise<ReloadOutcome>
  /** During a graceful stop, asked again: stops the runs in flight now instead of waiting out the grace period. */
  hurry(): void
  /** Graceful stop; resolves when everything is closed. */
  close(): Promise<void>
}

/** After the grace period, stopped runs get this long to record how they ended. */
const ABORT_SETTLE_MS = 2000
const LETTER_FLUSH_MS = 2000

/** Loads the config (throwing ConfigError when it is invalid), opens the journal and listens. */
export async function startService(options: StartOptions): Promise<RunningService> {
  // What is opened, in order; released in reverse on stop, or at once if starting fails midway.
  const opened: Array<() => unknown> = []
  const release = async () => {
    let failure: unknown
    for (let close = opened.pop(); close; close = opened.pop()) await Promise.resolve().then(close).catch((err: unknown) => (failure ??= err))
    if (failure) throw failure
  }
  try {
    return await start(options, opened, release)
  } catch (err) {
    await release().catch(() => {}) // the first error is the one to tell
    throw err
  }
}

async function start(options: StartOptions, opened: Array<() => unknown>, release: () => Promise<void>): Promise<RunningService> {
  const { http, close: closeHttp } = createHttpClient({ lookup: options.lookup })
  opened.push(closeHttp)
  const loaded = loadConfig({ path: options.configPath, env: options.env ?? process.env, http })
  opened.push(() => loaded.mailer?.close())
  refuseDemoValues(loaded)
  const log = createLogger(loaded.masker, { level: loaded.settings.logLevel, ...options.log })
  for (const warning of loaded.warnings) log.warn({ warning }, 'config warning')

  // One server per journal, checked before anything touches it (recovery below would mark
  // another server's runs in flight as interrupted).
  const journalPath = loaded.settings.journalPath
  const lock = logged(log, () => JournalLock.acquire(journalPath))
  opened.push(() => lock.release())
  const db = logged(log, () => openJournal(journalPath))
  opened.push(() => db.close())
  let metrics: Metrics | undefined // made once the writer it reads is open
  const writer = await BatchWriter.open(journalPath, log, {
    ...options.writer,
    onCommit: (ms) => metrics?.committed(ms),
    onGone(err) {
      log.fatal({ err, journal: journalPath }, 'the journal cannot be written any more; hookrelay stops so that its supervisor starts it again')
      log.flush(() => options.onFatal?.(err)) // the line is out before the process ends
    },
  })
  opened.push(() => writer.close())
  const journal = new Journal(db, writer)
  const lettersWaiting = db.prepare('SELECT (SELECT count(*) FROM letters WHERE sent_at IS NULL) + (SELECT count(*) FROM failures)').pluck()
  metrics = new Metrics({ pendingWrites: () => writer.pending, lettersWaiting: () => lettersWaiting.get() as number })
  const letters = { baseUrl: baseUrl(loaded) }
  const notifier = createNotifier(loaded, db, writer, log, letters, options)
  recover(journal, loaded, notifier, log) // before listening: only a previous process's runs are `running`
  const pruner = new Pruner(db, writer, log, { retentionDays: loaded.settings.retentionDays })
  pruner.start()
  opened.push(() => pruner.stop())

  const executor = new Executor({ journal, masker: loaded.masker, log, failures: notifier, metrics })
  if (notifier) opened.push(() => notifier.close(LETTER_FLUSH_MS)) // it flushes only once started
  const lifecycle: Lifecycle = { closing: false }
  const pipelines = new PipelineSet(loaded.pipelines)
  const configFile = resolve(options.configPath)
  const app = await buildServer({ settings: loaded.settings, pipelines, journal, executor, log, lifecycle, masker: loaded.masker, configFile, metrics })
  let address: string
  const { host, port } = loaded.settings
  try {
    address = await app.listen({ host, port })
  } catch (err) {
    await app.close()
    log.debug({ err }, 'listen failed')
    throw listenFailure(err, host, port) ?? err
  }
  log.info({ address, pipelines: loaded.pipelines.length, config: configFile, journal: journalPath }, 'hookrelay listening')
  if (!loaded.settings.publicUrl) letters.baseUrl = address // the curl in letters names the real port
  notifier?.start()
  const pollers = new Pollers({ pipelines: loaded.pipelines, executor, journal, log })
  pollers.start()

  /**
   * The config being served. The one loaded at start keeps the settings that need a restart,
   * and its mailer, which a reload's `email.send` steps use too. A replaced config is dropped:
   * the runs that started on it hold what they need until they end.
   */
  let current = loaded
  let reloads: Promise<unknown> = Promise.resolve()
  let closing: Promise<void> | undefined

  /** Reads the config again; a valid one replaces the pipelines at once, an invalid one is logged and changes nothing. */
  async function reload(): Promise<ReloadOutcome> {
    if (closing) return { reloaded: false, problems: ['the server is shutting down'] }
    let next: LoadedConfig
    try {
      next = loadConfig({ path: options.configPath, env: options.env ?? process.env, http, mailer: { use: loaded.mailer } })
      // The address served is the running one (a new host takes a restart); the token too.
      refuseDemoValues(next, loaded.settings.host, next.demoKeys)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      const problems = err.heading ? [err.heading, ...err.problems] : err.problems
      log.error({ config: configFile, problems }, 'reload refused: the config has problems; the running config stays')
      return { reloaded: false, problems }
    }
    loaded.masker.absorb(next.masker) // what logs, answers and runs pass: it must know the new secrets
    pipelines.replace(next.pipelines)
    current = next
    pollers.replace(next.pipelines) // an unchanged poller keeps its schedule and backoff
    for (const warning of next.warnings) log.warn({ warning }, 'config warning')
    const needsRestart = restartSettings(loaded.config, next.config)
    log.info({ config: configFile, pipelines: next.pipelines.length }, 'config reloaded: new requests run on it; runs in flight finish on the one they started with')
    if (needsRestart.length > 0) log.warn({ settings: needsRestart }, `changed in the file but kept until a restart: ${needsRestart.join(', ')}`)
    return { reloaded: true, problems: [], needsRestart }
  }

  return {
    app,
    get loaded() {
      return current
    },
    address,
    db,
    writer,
    reload() {
      const outcome = reloads.then(reload) // one at a time, in the order asked
      reloads = outcome.catch(() => {})
      return outcome
    },
    hurry() {
      if (!closing) return
      log.warn({}, 'asked again to stop: stopping runs in flight now (they are recorded as failed)')
      executor.abort()
    },
    close() {
      closing ??= (async () => {
        lifecycle.closing = true // new requests now get 503
        await reloads
        await pollers.stop()
        const graceEnds = Date.now() + loaded.settings.shutdownGraceMs
        await settleRuns(executor, loaded.settings.shutdownGraceMs, log)
        await app.close()
        // A run answered on receipt outlives its request, and one may have begun while the
        // server closed: they get what is left of the grace period too.
        await settleRuns(executor, graceEnds - Date.now(), log)
        await release() // letters due, retention, the journal, the mailer, the HTTP client
        log.info({}, 'hookrelay stopped')
        await new Promise<void>((resolve) => log.flush(() => resolve())) // the log is buffered
      })()
      return closing
    },
  }
}

/** Settings that take a restart to change (everything but `pipelines`): the dotted keys that differ. */
function restartSettings(running: Config, next: Config): string[] {
  const changed: string[] = []
  for (const section of ['server', 'journal', 'notify'] as const) {
    const a = (running[section] ?? {}) as Record<string, unknown>
    const b = (next[section] ?? {}) as Record<string, unknown>
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) changed.push(`${section}.${key}`)
    }
  }
  return changed
}

/**
 * The example's demo keys and token are published: served where others can reach, they would
 * let anyone run the pipelines and read the journal. On loopback they are for trying it out.
 */
function refuseDemoValues(loaded: LoadedConfig, host = loaded.settings.host, found = loaded.demoValues): void {
  if (found.length === 0 || isLoopback(host)) return
  throw new ConfigError(
    found,
    `${loaded.file}: the config holds the example's demo values, and ${host} can be reached from other machines. ` +
      'Set your own values (below), or set server.host (HOST) to 127.0.0.1 to try the example on this machine only',
  )
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  return ipaddr.isValid(host) && ipaddr.process(host).range() === 'loopback'
}

/** Runs `open`; a StartError's cause goes to the log at debug level (the admin gets one line). */
function logged<T>(log: Log, open: () => T): T {
  try {
    return open()
  } catch (err) {
    if (err instanceof StartError) log.debug({ err: err.cause ?? err }, err.message)
    throw err
  }
}

/** Opens and migrates the journal; the usual failures said as what to do. */
function openJournal(path: string): Db {
  try {
    return openDatabase(path)
  } catch (err) {
    if (err instanceof HookrelayError && err.code === 'HR_MIGRATION_FAILED') {
      throw new StartError(`the journal could not be brought up to date: ${err.message}`, path, 'restore the backup taken before the upgrade, and start the version it came from', { cause: err })
    }
    const code = (err as { code?: string }).code ?? ''
    if (/^(SQLITE_(CANTOPEN|READONLY|PERM|AUTH)|EACCES|EROFS|EPERM)/.test(code)) {
      throw new StartError('cannot open the journal for writing', path, `make the file and its folder writable by ${currentUser()}`, { cause: err })
    }
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) {
      throw new StartError('the journal file is damaged or is not a journal', path, 'restore it from a backup (docs/deploy.md), or move it away to start an empty one', { cause: err })
    }
    throw err
  }
}

/** Waits up to `graceMs` for runs in flight; then stops their calls and lets them record that. */
async function settleRuns(executor: Executor, graceMs: number, log: Log): Promise<void> {
  if (await executor.idle(Math.max(0, graceMs))) return
  log.warn({}, 'grace period over: stopping runs in flight')
  executor.abort()
  await executor.idle(ABORT_SETTLE_MS)
}

function createNotifier(loaded: LoadedConfig, db: Db, writer: BatchWriter, log: Log, letter: LetterContext, options: StartOptions): Notifier | undefined {
  const email = loaded.config.notify?.email
  if (!email || !loaded.mailer) return undefined
  return new Notifier(
    { db, writer, mailer: loaded.mailer, masker: loaded.masker, log },
    { to: email.to, minIntervalMs: loaded.settings.minIntervalMs, letter, ...options.letters },
  )
}

/**
 * Runs a previous process left `running` become `interrupted`; each is queued for a letter in
 * the same transaction, unless its pipeline is silenced.
 */
function recover(journal: Journal, loaded: LoadedConfig, notifier: Notifier | undefined, log: Log): void {
  const pipelines = new Map(loaded.pipelines.map((p) => [p.id, p]))
  const runs = journal.recoverInterrupted((run) => {
    const pipeline = pipelines.get(run.pipeline)
    if (!notifier || pipeline?.notify === false) return []
    const summary = {
      runId: run.id,
      pipeline: run.pipeline,
      pipelineName: pipeline?.name ?? run.pipeline,
      status: 'interrupted' as const,
      receivedAt: run.received_at,
      step: run.step_id ?? undefined,
      stepType: run.step_type ?? undefined,
      error: run.error,
    }
    return [notifier.failureWrite(loaded.masker.value(summary))]
  })
  for (const run of runs) log.warn({ runId: run.id, pipeline: run.pipeline, step: run.step_id }, 'run interrupted by the previous stop')
}
