/** The CLI: serve | check | urls | replay | backup | health. The only module that touches `process`. */
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { startService } from './app.js'
import { backup } from './cli/backup.js'
import { check, urls, type Io } from './cli/commands.js'
import { health } from './cli/health.js'
import { reload } from './cli/reload.js'
import { replay } from './cli/replay.js'
import { ConfigError } from './config/problems.js'
import { prettyDestination } from './log.js'
import { VERSION } from './runtime/assets.js'
import { AddonError } from './runtime/sea-addon.js'
import { StartError } from './start-error.js'

/** Exit codes: 0 ok, 1 invalid config, 2 usage, 3 cannot start (port, journal, lock) or cannot go on (the journal writer died for good). */
const EXIT_CANNOT_START = 3

const USAGE = `usage: hookrelay [serve|check|urls|health|reload] [--config PATH]
       hookrelay replay RUN_ID [--config PATH]
       hookrelay backup PATH [--config PATH]
       hookrelay --version | --help

  serve   run the server (the default command)
  check   validate the config, print each pipeline and every problem; exit 1 on an error
  urls    print every webhook URL, ready to paste into GetCourse or Tilda
  replay  run a journaled request again through its pipeline's current config, as a new run;
          prints the new run's id and status (exit 0 when it is ok); works while the server runs
  backup  copy the journal to PATH (a new file, or a folder for a dated name) while the server
          runs; the copy is one consistent moment of the journal
  health  ask the running server for /healthz at the address the config listens on; exit 0 when
          it answers 200
  reload  have the server serving this config's journal read its config again (as SIGHUP does)

The config is --config, else $HOOKRELAY_CONFIG, else ./config.yaml, else ./config.example.yaml.`

const COMMANDS = ['serve', 'check', 'urls', 'health', 'reload', 'replay', 'backup']
/** Commands that take one argument besides the options, and what it is called in messages. */
const ARGUMENT: Record<string, string> = { replay: 'RUN_ID', backup: 'PATH' }

/** The config named, else the one in the working folder; undefined when there is none to use. */
function configPath(given: string | undefined): string | undefined {
  if (given) return given
  if (process.env['HOOKRELAY_CONFIG']) return process.env['HOOKRELAY_CONFIG']
  for (const name of ['config.yaml', 'config.example.yaml']) if (existsSync(name)) return name
  return undefined
}

async function serve(path: string): Promise<number> {
  // Until the server is up, a SIGHUP (an SSH session closing) must not end the process.
  const early = () => {}
  process.on('SIGHUP', early)
  let service
  try {
    const destination = process.stdout.isTTY ? await prettyDestination() : undefined
    service = await startService({ configPath: path, log: { destination }, onFatal: () => process.exit(EXIT_CANNOT_START) })
  } catch (err) {
    if (err instanceof StartError || err instanceof AddonError) {
      process.stderr.write(`hookrelay: ${err.message}\n`)
      return EXIT_CANNOT_START
    }
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${err.heading ?? `${path}: ${err.problems.length} problem(s)`}; not starting\n${err.problems.join('\n')}\n`)
    return 1
  } finally {
    process.off('SIGHUP', early)
  }
  const log = service.app.log
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'))
  // SIGHUP reads the config again (reload); it never stops the server.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading the config')
    service.reload().catch((err: unknown) => log.error({ err }, 'reload failed'))
  })
  // SIGTERM/SIGINT: the first stops gracefully; the second stops the runs in flight at once
  // (recorded as failed); a third exits now (runs still going are found `interrupted` at the next start).
  let asked = 0
  const stop = (signal: string) => {
    asked++
    if (asked === 2) return service.hurry()
    if (asked > 2) {
      log.error({ signal }, 'asked a third time to stop: exiting now')
      return process.exit(1)
    }
    log.info({ signal }, 'shutting down')
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  return -1 // keep running
}

async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    })
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const [command = 'serve', ...rest] = parsed.positionals
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (parsed.values.version) {
    process.stdout.write(`hookrelay ${VERSION} (Node.js ${process.version})\n`)
    return 0
  }
  const argument = ARGUMENT[command]
  const misuse = !COMMANDS.includes(command)
    ? `unknown command '${command}'`
    : argument && rest.length !== 1
      ? `${command} takes one ${argument}`
      : !argument && rest.length > 0
        ? `unexpected argument '${rest[0]}'`
        : undefined
  if (misuse) {
    process.stderr.write(`${misuse}\n${USAGE}\n`)
    return 2
  }
  const path = configPath(parsed.values.config)
  if (path === undefined) {
    process.stderr.write(
      `hookrelay: there is no config.yaml in ${process.cwd()}. Write one there (docs/configuration.md ` +
        'and the examples/ folder show how), or name yours: --config PATH, or HOOKRELAY_CONFIG=PATH.\n',
    )
    return 1
  }
  const io: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`), env: process.env }
  switch (command) {
    case 'check':
      return check(path, io)
    case 'urls':
      return urls(path, io)
    case 'health':
      return health(path, io)
    case 'reload':
      return reload(path, io)
    case 'replay':
      return replay(rest[0]!, path, io)
    case 'backup':
      return backup(rest[0]!, path, io)
    default:
      return serve(path)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code
  },
  (err: unknown) => {
    // A problem of the machine the admin must fix is said plainly; anything else with its stack.
    process.stderr.write(`hookrelay: ${err instanceof AddonError ? err.message : ((err as Error).stack ?? String(err))}\n`)
    process.exitCode = 1
  },
)
