/** The SQLite file: migrations in order under user_version, WAL, full sync, strict tables. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MIGRATIONS_DIR, openDatabase, readMigrations } from '../../src/journal/db.js'

let dir: string
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('openDatabase', () => {
  it('creates the folder and file, applies every migration and sets the pragmas', () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-db-'))
    const db = openDatabase(join(dir, 'nested', 'journal.db'))
    const versions = readMigrations(MIGRATIONS_DIR).map((m) => m.version)
    expect(versions).toEqual([...versions].sort((a, b) => a - b))
    expect(db.pragma('user_version', { simple: true })).toBe(versions.at(-1))
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('synchronous', { simple: true })).toBe(2) // FULL
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2) // INCREMENTAL
    const tables = db.prepare("SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'").all()
    expect(tables).toEqual(expect.arrayContaining([{ name: 'runs', strict: 1 }, { name: 'steps', strict: 1 }]))
    expect(() => db.prepare("INSERT INTO runs (id, pipeline, status, received_at, request) VALUES ('x', 'p', 'weird', 'now', '{}')").run()).toThrow(
      /CHECK constraint failed/,
    )
    db.close()
  })

  it('applies only new migrations on reopen, and rolls back a failing one whole', () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-db-'))
    const migrations = join(dir, 'migrations')
    mkdirSync(migrations)
    writeFileSync(join(migrations, '001-a.sql'), 'CREATE TABLE a (x INTEGER) STRICT;')
    const path = join(dir, 'j.db')
    openDatabase(path, { migrationsDir: migrations }).close()
    writeFileSync(join(migrations, '002-b.sql'), 'CREATE TABLE b (x INTEGER) STRICT; INSERT INTO nope VALUES (1);')
    expect(() => openDatabase(path, { migrationsDir: migrations })).toThrow(/migration 002-b.sql failed: no such table: nope/)
    writeFileSync(join(migrations, '002-b.sql'), 'CREATE TABLE b (x INTEGER) STRICT;')
    const db = openDatabase(path, { migrationsDir: migrations })
    expect(db.pragma('user_version', { simple: true })).toBe(2)
    db.close()
  })
})
