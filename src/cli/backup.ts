/**
 * `hookrelay backup PATH`: an online, consistent copy of the journal, taken while the server
 * runs. SQLite's backup API (through better-sqlite3) copies every page in one step, inside one
 * read transaction: the copy is the journal as of one moment, and the server, whose journal is
 * in WAL mode, goes on writing meanwhile. The copy is written beside PATH, checked, and only
 * then linked to PATH (which fails rather than replace a file), so a file at PATH is always a
 * whole backup. A PATH that is a folder, or ends with "/", gets a copy named by the time.
 */
import { closeSync, existsSync, linkSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { openPrivate, openSqlite } from '../journal/db.js'
import { load, maskedIo, type Io } from './commands.js'

/** More pages than any journal has: the whole copy is one step, so one snapshot. */
const ALL_PAGES = 0x7fffffff
const BUSY_TIMEOUT_MS = 5000

export async function backup(target: string, path: string, plain: Io): Promise<number> {
  const loaded = load(path, plain)
  if (!loaded) return 1
  const io = maskedIo(plain, loaded.masker)
  const journal = loaded.settings.journalPath
  if (!existsSync(journal)) {
    io.err(`hookrelay backup: there is no journal at ${journal} yet (hookrelay has not served with this config); nothing to back up`)
    return 1
  }
  if (target.endsWith('/') && !isFolder(target)) {
    try {
      mkdirSync(target, { mode: 0o700 })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const why = code === 'ENOENT' ? 'the folder above it does not exist' : code === 'EACCES' ? 'no permission to write there' : (err as Error).message
      io.err(`hookrelay backup: could not make the folder ${target}: ${why}; make it, owned by the user hookrelay runs as, or name another`)
      return 1
    }
  }
  const file = isFolder(target) ? join(target, `hookrelay-${new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.db`) : target
  if (existsSync(file)) {
    io.err(`hookrelay backup: ${file} already exists; a backup never replaces a file: give a new name, or a folder to get a dated name`)
    return 1
  }
  if (!isFolder(dirname(file))) {
    io.err(`hookrelay backup: the folder ${dirname(file)} does not exist; make it (owned by the user hookrelay runs as), or name a folder that exists`)
    return 1
  }
  const partial = `${file}.partial-${process.pid}`
  try {
    // The journal holds what callers sent: the copy is for hookrelay's user only from the first
    // byte (made here 0600, whatever the umask; SQLite then writes into it, and into its -journal with its mode).
    // One left by a backup of this pid that crashed (pid 1 in every container) is removed first.
    for (const leftover of [partial, `${partial}-journal`]) rmSync(leftover, { force: true })
    closeSync(openPrivate(partial, 'wx'))
    const source = openSqlite(journal, { fileMustExist: true })
    try {
      source.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
      await source.backup(partial, { progress: () => ALL_PAGES })
    } finally {
      source.close()
    }
    const copy = openSqlite(partial, { fileMustExist: true })
    let runs: number
    try {
      const check = copy.pragma('integrity_check', { simple: true })
      if (check !== 'ok') throw new Error(`the copy failed SQLite's integrity check: ${String(check)}`)
      runs = (copy.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n
    } finally {
      copy.close()
    }
    linkSync(partial, file) // EEXIST rather than replace a backup made meanwhile
    rmSync(partial)
    const megabytes = (statSync(file).size / 1048576).toFixed(1)
    io.out(`backed up ${journal} to ${file}: ${runs} run${runs === 1 ? '' : 's'}, ${megabytes} MB`)
    return 0
  } catch (err) {
    for (const leftover of [partial, `${partial}-journal`, `${partial}-wal`, `${partial}-shm`]) rmSync(leftover, { force: true })
    io.err(`hookrelay backup: could not copy ${journal} to ${file}: ${(err as Error).message}`)
    return 1
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
