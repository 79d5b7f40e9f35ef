/**
 * What a build fixes in place: the version, the journal's migrations, how the journal's writer
 * thread starts, and where the SQLite addon comes from. In a checkout they are read from the
 * files beside the sources. scripts/bundle.mjs replaces this module, in dist/hookrelay.mjs and
 * in the single binary, with one that exports the same names holding the values compiled in, so
 * that neither needs a file of ours beside it. Keep the exports of the two in step.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readMigrations, type Migration } from '../journal/migrations.js'

/** How the journal's writer thread is started: a module file, or (in the binary) its code. */
export interface WorkerStart {
  script: URL | string
  eval: boolean
  /** The SQLite addon's file, for the thread to load itself (the binary only). */
  addon?: string
}

/** The checkout's root: the nearest folder above this module that holds migrations/. */
const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'migrations', '001-runs.sql'))) return dir
    if (dirname(dir) === dir) throw new Error(`no migrations/ folder above ${from}`)
  }
}

export const MIGRATIONS_DIR = join(ROOT, 'migrations')

export const VERSION: string = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

export function migrations(): Migration[] {
  return readMigrations(MIGRATIONS_DIR)
}

export function sqlWorker(): WorkerStart {
  return { script: new URL('../journal/sql-worker.mjs', import.meta.url), eval: false }
}

/** better-sqlite3's `nativeBinding`: none here, so it finds its addon in node_modules. */
export function nativeBinding(): object | undefined {
  return undefined
}
