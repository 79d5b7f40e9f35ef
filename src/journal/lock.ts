/**
 * One server per journal. `hookrelay serve` holds a lock on `<journal>.lock` for as long as it
 * runs; a second `serve` on the same journal finds it held and stops before it touches anything
 * (it would otherwise mark the first one's runs in flight `interrupted`). `check`, `urls`,
 * `replay` and `backup` take no lock and work beside the server.
 *
 * The lock is SQLite's own, on a small file of its own: the holder keeps a write transaction
 * open (RESERVED: others may read, none may write), and its pid, committed before, stays
 * readable for the message and for `hookrelay reload`. SQLite's locks are the kernel's (fcntl),
 * so they go with the process however it ends: a crash or SIGKILL leaves no stale lock.
 */
import { dirname } from 'node:path'
import { currentUser, StartError } from '../start-error.js'
import { openSqlite, preparePrivateFile, type Db } from './db.js'

export class JournalLock {
  readonly #db: Db

  private constructor(db: Db) {
    this.#db = db
  }

  /** Takes the lock for `journalPath` (making its folder), or throws a StartError saying who holds it. */
  static acquire(journalPath: string): JournalLock {
    const folder = dirname(journalPath)
    try {
      preparePrivateFile(`${journalPath}.lock`)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new StartError(code === 'ENOENT' || code === 'ENOTDIR' ? "cannot create the journal's folder" : "cannot write in the journal's folder", folder, writableAdvice(), { cause: err })
    }
    let db: Db
    try {
      db = openSqlite(`${journalPath}.lock`)
      db.pragma('busy_timeout = 0')
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)')
    } catch (err) {
      throw new StartError('cannot write in the journal\'s folder', folder, writableAdvice(), { cause: err })
    }
    try {
      db.exec('BEGIN IMMEDIATE')
      db.prepare('DELETE FROM holder').run()
      db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString())
      db.exec('COMMIT')
      db.exec('BEGIN IMMEDIATE') // held from here until release(): the pid above stays readable
      return new JournalLock(db)
    } catch (err) {
      const holder = (err as { code?: string }).code === 'SQLITE_BUSY' ? readHolder(db) : undefined
      db.close()
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw new StartError('cannot lock the journal', `${journalPath}.lock`, writableAdvice(), { cause: err })
      throw new StartError(
        `the journal is in use by another hookrelay${holder ? ` (pid ${holder.pid}, since ${holder.since})` : ''}`,
        journalPath,
        'one server per journal: stop the other one first, or give this one its own journal.path',
      )
    }
  }

  /** The pid of the server holding `journalPath`'s lock, if one does. */
  static holder(journalPath: string): number | undefined {
    let db: Db
    try {
      db = openSqlite(`${journalPath}.lock`, { fileMustExist: true })
    } catch {
      return undefined
    }
    try {
      db.pragma('busy_timeout = 0')
      try {
        db.exec('BEGIN IMMEDIATE') // taken: nobody holds it
        db.exec('ROLLBACK')
        return undefined
      } catch {
        return readHolder(db)?.pid
      }
    } finally {
      db.close()
    }
  }

  release(): void {
    if (!this.#db.open) return
    this.#db.exec('ROLLBACK')
    this.#db.close()
  }
}

function readHolder(db: Db): { pid: number; since: string } | undefined {
  try {
    return db.prepare('SELECT pid, since FROM holder').get() as { pid: number; since: string } | undefined
  } catch {
    return undefined
  }
}

function writableAdvice(): string {
  return `make it writable by ${currentUser()}; in Docker, the host folder mounted at /data must be too (chown 1000 it)`
}
