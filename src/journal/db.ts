/** Opens the journal's SQLite file with the pragmas durability needs, and applies migrations. */
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { hookrelayError } from '../errors.js'
import { migrations, nativeBinding } from '../runtime/assets.js'
import { readMigrations, type Migration } from './migrations.js'
import { searchText } from './search-text.mjs'

export type Db = Database.Database

export interface OpenOptions {
  /** How long a write waits for another connection's lock before SQLITE_BUSY. */
  busyTimeoutMs?: number
  /** A folder of migration files instead of the ones compiled in (tests). */
  migrationsDir?: string
}

/** Opens an SQLite file with the addon this build carries (the binary's, or node_modules'). */
export function openSqlite(path: string, options: Database.Options = {}): Db {
  const binding = nativeBinding()
  // better-sqlite3 takes an already loaded addon as well as a path; its types name only the path.
  return new Database(path, binding ? { ...options, nativeBinding: binding as unknown as string } : options)
}

/**
 * Makes the folder of `path` and the file itself for hookrelay's user only (0700 and 0600, whatever
 * the umask) before SQLite opens it: SQLite creates files under the umask (0644 under a plain
 * `npm start`), and gives a journal's -wal and -shm the mode of the file itself. A file that
 * exists is made 0600 too, with its -wal and -shm; a folder that exists is left as it is (it
 * may be the working directory). The journal holds what callers sent.
 */
export function preparePrivateFile(path: string): void {
  const folder = dirname(path)
  if (mkdirSync(folder, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(folder, 0o700)
  closeSync(openPrivate(path, 'a'))
  for (const companion of [`${path}-wal`, `${path}-shm`]) if (existsSync(companion)) unlessOthers(() => chmodSync(companion, 0o600))
}

/** Opens `path` with `flags` ('wx' to create a new file only), creating it 0600 whatever the umask. */
export function openPrivate(path: string, flags: 'a' | 'wx'): number {
  const fd = openSync(path, flags, 0o600)
  unlessOthers(() => fchmodSync(fd, 0o600))
  return fd
}

/** Runs a chmod; on another user's file (EPERM: shared on purpose) it is left as it is. */
function unlessOthers(chmod: () => void): void {
  try {
    chmod()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err
  }
}

/** Opens (creating file and folder, both private) and migrates; `:memory:` works for throwaway use. */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') preparePrivateFile(path)
  const db = openSqlite(path)
  try {
    // The search index's trigger calls it (migrations/009-search.sql), as on the writer thread.
    db.function('hookrelay_search_text', { deterministic: true, varargs: true }, searchText)
    // Must precede the first table: lets retention give pages back with incremental_vacuum.
    if (db.pragma('user_version', { simple: true }) === 0) db.pragma('auto_vacuum = INCREMENTAL')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL') // a committed run survives a power cut
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 1000}`)
    // Off while migrating, as SQLite asks for a table rebuild: dropping a table would otherwise
    // delete the rows that refer to it.
    db.pragma('foreign_keys = OFF')
    migrate(db, options.migrationsDir ? readMigrations(options.migrationsDir) : migrations())
    db.pragma('foreign_keys = ON')
    const broken = db.pragma('foreign_key_check') as unknown[]
    if (broken.length > 0) throw new Error(`the journal has ${broken.length} rows whose run is missing (PRAGMA foreign_key_check)`)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/** Applies the migrations newer than the file's user_version, each in its own transaction. */
export function migrate(db: Db, all: readonly Migration[]): void {
  const current = db.pragma('user_version', { simple: true }) as number
  for (const migration of all.filter((m) => m.version > current)) {
    try {
      db.transaction(() => {
        db.exec(migration.sql)
        db.pragma(`user_version = ${migration.version}`)
      })()
    } catch (err) {
      throw hookrelayError('HR_MIGRATION_FAILED', [migration.name, err instanceof Error ? err.message : err], { cause: err })
    }
  }
}
