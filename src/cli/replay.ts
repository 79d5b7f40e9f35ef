/**
 * `hookrelay replay RUN_ID`: runs a kept request again through its pipeline's current config,
 * as a new run that records `replay_of`. It opens the journal beside a running server (WAL and
 * a busy timeout let both write).
 */
import { loadConfig } from '../config/load.js'
import { ConfigError } from '../config/problems.js'
import { hookrelayError, HookrelayError } from '../errors.js'
import { createHttpClient } from '../http/client.js'
import { openDatabase } from '../journal/db.js'
import { Journal } from '../journal/journal.js'
import { BatchWriter } from '../journal/writer.js'
import { createLogger } from '../log.js'
import type { CompiledPipeline } from '../pipeline/compile.js'
import { Executor, type RunResult } from '../pipeline/executor.js'
import { restoreRequest } from '../sources/incoming.js'
import { maskedIo, type Io } from './commands.js'

/** Long enough to wait out the server's own batches. */
const BUSY_TIMEOUT_MS = 5000

export async function replay(runId: string, path: string, plain: Io): Promise<number> {
  const client = createHttpClient()
  let io = plain
  try {
    const loaded = loadConfig({ path, env: io.env, http: client.http })
    io = maskedIo(plain, loaded.masker)
    const log = createLogger(loaded.masker, { level: 'warn', destination: process.stderr })
    const db = openDatabase(loaded.settings.journalPath, { busyTimeoutMs: BUSY_TIMEOUT_MS })
    const journal = new Journal(db, await BatchWriter.open(loaded.settings.journalPath, log, { busyTimeoutMs: BUSY_TIMEOUT_MS }))
    try {
      const result = await replayRun(runId, loaded.pipelines, journal, new Executor({ journal, masker: loaded.masker, log }))
      io.out(`replayed ${runId} as ${result.runId}: ${result.status}`)
      io.out(`answer: ${result.answer.status} ${result.answer.body}`)
      return result.status === 'ok' ? 0 : 1
    } finally {
      await journal.close()
      loaded.mailer?.close()
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`${path}: ${err.problems.length} problem(s)\n${err.problems.join('\n')}`)
      return 1
    }
    // Anything else too is told through the masked output, never as a stack trace.
    io.err(`hookrelay replay: ${err instanceof HookrelayError ? err.message : `unexpected error: ${(err as Error).message ?? String(err)}`}`)
    return 1
  } finally {
    await client.close()
  }
}

/** Replays `runId` with `executor`; refuses a rejected run and one whose pipeline is gone. */
export async function replayRun(
  runId: string,
  pipelines: readonly CompiledPipeline[],
  journal: Journal,
  executor: Executor,
): Promise<RunResult> {
  const run = journal.get(runId)
  if (!run) throw hookrelayError('HR_RUN_NOT_FOUND', [runId])
  if (run.status === 'rejected') {
    throw hookrelayError('HR_REPLAY_REFUSED', [
      `run ${runId} was rejected (${run.error ?? 'bad input'}): its request never reached the actions and would be rejected again; fix the sender and let it send again`,
    ])
  }
  const pipeline = pipelines.find((p) => p.id === run.pipeline)
  if (!pipeline) throw hookrelayError('HR_REPLAY_REFUSED', [`run ${runId} belongs to pipeline '${run.pipeline}', which the config no longer has`])
  if (!pipeline.enabled) throw hookrelayError('HR_REPLAY_REFUSED', [`pipeline '${pipeline.id}' is stopped (enabled: false); enable it, then replay`])
  // A skipped run without an error was a sender's check (or a delivery with nothing in it); one
  // skipped because the pipeline was stopped has that error, and is what replay is for.
  if (run.status === 'skipped' && run.error === null) {
    throw hookrelayError('HR_REPLAY_REFUSED', [`run ${runId} was a sender's check (${run.warnings[0] ?? 'nothing in it'}): there is nothing to run`])
  }
  return executor.receive(pipeline, restoreRequest(run.request, new Date()), { replayOf: runId })
}
