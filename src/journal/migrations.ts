/** The journal's schema changes: files `NNN-name.sql` in migrations/, applied in number order. */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Migration {
  version: number
  name: string
  sql: string
}

export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const m = /^(\d+)-.+\.sql$/.exec(name)
      return m ? [{ version: Number(m[1]), name, sql: readFileSync(join(dir, name), 'utf8') }] : []
    })
    .sort((a, b) => a.version - b.version)
}
