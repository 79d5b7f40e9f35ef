/** Starting the whole service: config, logger, journal, HTTP client, server, and a clean close. */
import type { FastifyInstance } from 'fastify'
import { Agent } from 'undici'
import { loadConfig, type LoadedConfig } from './config/load.js'
import { HttpClient } from './http/client.js'
import { openDatabase } from './journal/db.js'
import { Journal } from './journal/journal.js'
import { createLogger, type LoggerOptions } from './log.js'
import { Executor } from './pipeline/executor.js'
import { buildServer } from './server.js'

export interface StartOptions {
  configPath: string
  env?: NodeJS.ProcessEnv
  log?: LoggerOptions
}

export interface RunningService {
  app: FastifyInstance
  loaded: LoadedConfig
  /** The address the server listens on, e.g. http://127.0.0.1:8080. */
  address: string
  close(): Promise<void>
}

/** Loads the config (throwing ConfigError when it is invalid), opens the journal and listens. */
export async function startService(options: StartOptions): Promise<RunningService> {
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connect: { timeout: 10_000 } })
  const http = new HttpClient({ dispatcher })
  const loaded = loadConfig({ path: options.configPath, env: options.env ?? process.env, http })
  const log = createLogger(loaded.masker, options.log)
  for (const warning of loaded.warnings) log.warn({ warning }, 'config warning')

  const db = openDatabase(loaded.settings.journalPath)
  const journal = new Journal(db, log)
  const executor = new Executor({ journal, masker: loaded.masker, log })
  const app = await buildServer({ settings: loaded.settings, pipelines: loaded.pipelines, journal, executor, log })
  try {
    const address = await app.listen({ host: loaded.settings.host, port: loaded.settings.port })
    log.info({ address, pipelines: loaded.pipelines.length, journal: loaded.settings.journalPath }, 'hookrelay listening')
    return {
      app,
      loaded,
      address,
      async close() {
        await app.close()
        journal.close()
        loaded.mailer?.close()
        await dispatcher.close()
      },
    }
  } catch (err) {
    journal.close()
    await dispatcher.close()
    throw err
  }
}
