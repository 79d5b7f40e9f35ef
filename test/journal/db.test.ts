/** The SQLite file: migrations in order under user_version, WAL, full sync, strict tables. */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/journal/db.js'
import { readMigrations } from '../../src/journal/migrations.js'
import { MIGRATIONS_DIR } from '../../src/runtime/assets.js'

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

  it('rebuilds the runs table for the duplicate status without losing a run or a step (foreign keys off meanwhile)', () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-db-'))
    const before = join(dir, 'before')
    mkdirSync(before)
    for (const m of readMigrations(MIGRATIONS_DIR).filter((m) => m.version < 6)) copyFileSync(join(MIGRATIONS_DIR, m.name), join(before, m.name))
    const path = join(dir, 'j.db')
    const old = openDatabase(path, { migrationsDir: before })
    old.prepare("INSERT INTO runs (id, pipeline, status, received_at, request, replay_of) VALUES ('r1', 'p', 'ok', 'then', '{}', NULL)").run()
    old.prepare("INSERT INTO steps (run_id, seq, id, type, status, started_at) VALUES ('r1', 0, 's', 'http.request', 'ok', 'then')").run()
    old.close()

    const db = openDatabase(path)
    expect(db.prepare('SELECT id, status FROM runs').all()).toEqual([{ id: 'r1', status: 'ok' }])
    expect(db.prepare('SELECT run_id, id FROM steps').all()).toEqual([{ run_id: 'r1', id: 's' }])
    db.prepare("INSERT INTO runs (id, pipeline, status, received_at, request, duplicate_of) VALUES ('r2', 'p', 'duplicate', 'now', '{}', 'r1')").run()
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
    db.prepare("DELETE FROM runs WHERE id = 'r1'").run()
    expect(db.prepare('SELECT count(*) AS n FROM steps').get()).toEqual({ n: 0 }) // the cascade still holds
    db.close()
  })
})
