/** Opens the journal's SQLite file with the pragmas durability needs, and applies migrations. */
import { mkdirSync } from 'node:fs'
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

/** Opens (creating file and folder) and migrates; `:memory:` works for throwaway use. */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = openSqlite(path)
  try {
    // The search index's trigger calls it (migrations/009-search.sql), as on the writer thread.
    db.function('hookrelay_search_text', { deterministic: true }, searchText)
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
