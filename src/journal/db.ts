/** Opens the journal's SQLite file with the pragmas durability needs, and applies migrations. */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { hookrelayError } from '../errors.js'

export type Db = Database.Database

/** migrations/ in the nearest folder above this module: beside src/, or beside dist/ when bundled. */
export const MIGRATIONS_DIR = findMigrations(dirname(fileURLToPath(import.meta.url)))

function findMigrations(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'migrations', '001-runs.sql'))) return join(dir, 'migrations')
    if (dirname(dir) === dir) throw new Error(`no migrations/ folder above ${from}`)
  }
}

export interface OpenOptions {
  /** How long a write waits for another connection's lock before SQLITE_BUSY. */
  busyTimeoutMs?: number
  migrationsDir?: string
}

/** Opens (creating file and folder) and migrates; `:memory:` works for throwaway use. */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  try {
    // Must precede the first table: lets retention give pages back with incremental_vacuum.
    if (db.pragma('user_version', { simple: true }) === 0) db.pragma('auto_vacuum = INCREMENTAL')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL') // a committed run survives a power cut
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 1000}`)
    // Off while migrating, as SQLite asks for a table rebuild: dropping a table would otherwise
    // delete the rows that refer to it.
    db.pragma('foreign_keys = OFF')
    migrate(db, options.migrationsDir ?? MIGRATIONS_DIR)
    db.pragma('foreign_keys = ON')
    const broken = db.pragma('foreign_key_check') as unknown[]
    if (broken.length > 0) throw new Error(`the journal has ${broken.length} rows whose run is missing (PRAGMA foreign_key_check)`)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

interface Migration {
  version: number
  name: string
  sql: string
}

/** Migration files are `NNN-name.sql`; each runs in its own transaction with user_version. */
export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const m = /^(\d+)-.+\.sql$/.exec(name)
      return m ? [{ version: Number(m[1]), name, sql: readFileSync(join(dir, name), 'utf8') }] : []
    })
    .sort((a, b) => a.version - b.version)
}

export function migrate(db: Db, dir: string): void {
  const current = db.pragma('user_version', { simple: true }) as number
  for (const migration of readMigrations(dir).filter((m) => m.version > current)) {
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
