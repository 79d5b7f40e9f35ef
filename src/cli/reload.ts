/**
 * `hookrelay reload`: asks the server serving this config's journal to read its config again,
 * by sending SIGHUP to the process that holds the journal's lock (see journal/lock.ts). What
 * came of it is in that server's log: "config reloaded", or "reload refused" with the problems.
 * The file is checked here first (an invalid one is reported here, as `check` does).
 */
import { JournalLock } from '../journal/lock.js'
import { load, maskedIo, type Io } from './commands.js'

export function reload(path: string, plain: Io): number {
  const loaded = load(path, plain)
  if (!loaded) return 1
  const io = maskedIo(plain, loaded.masker)
  const journal = loaded.settings.journalPath
  const pid = JournalLock.holder(journal)
  if (pid === undefined) {
    io.err(`hookrelay reload: no hookrelay is serving the journal ${journal}; start it with \`hookrelay serve\``)
    return 1
  }
  try {
    process.kill(pid, 'SIGHUP')
  } catch (err) {
    io.err(`hookrelay reload: could not signal the server (pid ${pid}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; run this as the user hookrelay runs as`)
    return 1
  }
  io.out(`asked hookrelay (pid ${pid}, journal ${journal}) to reload ${loaded.file}; its log says "config reloaded" when done`)
  return 0
}
