/** `hookrelay backup` while the server writes, and `hookrelay health`, run as an admin runs them. */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay } from '../helpers/hookrelay.js'
import { run } from '../helpers/process.js'
import { freePort } from '../helpers/smtp.js'

const keep = closeAfterEach()
const PIPELINE = `pipelines:
  - id: intake
    source: { type: http, key: backup-key-0123456789 }
    actions: []
`

describe('backup', () => {
  it('copies the journal while requests keep arriving: a whole, private, consistent copy', async () => {
    const hr = await keep(startHookrelay(PIPELINE))
    const post = (i: number) => hr.call('/hooks/intake/backup-key-0123456789', postJson({ email: `lead${i}@example.com` }))
    for (let i = 0; i < 20; i++) expect((await post(i)).status).toBe(200)

    // Requests go on, 10 at a time, for as long as the backup takes.
    let writing = true
    let sent = 20
    const load = (async () => {
      while (writing && sent < 2000) await Promise.all(Array.from({ length: 10 }, () => post(sent++)))
    })()
    const result = await run(['backup', join(hr.dir, 'copy.db'), '--config', join(hr.dir, 'config.yaml')])
    writing = false
    await load

    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(sent).toBeGreaterThan(40) // requests were being written while it copied
    const copied = Number(/: (\d+) runs, [\d.]+ MB\n$/.exec(result.stdout)?.[1])
    const copy = new Database(join(hr.dir, 'copy.db'), { readonly: true })
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok')
      expect(copy.pragma('foreign_key_check')).toEqual([])
      const ids = copy.prepare('SELECT id FROM runs ORDER BY id').pluck().all() as string[]
      expect(ids.length).toBe(copied)
      expect(copied).toBeGreaterThanOrEqual(20)
      const live = new Database(hr.dbPath, { readonly: true })
      const journal = new Set(live.prepare('SELECT id FROM runs').pluck().all() as string[])
      live.close()
      expect(journal.size).toBe(sent)
      expect(ids.filter((id) => !journal.has(id))).toEqual([])
    } finally {
      copy.close()
    }
    expect(statSync(join(hr.dir, 'copy.db')).mode & 0o777).toBe(0o600)
    expect(readdirSync(hr.dir).filter((name) => name.includes('partial'))).toEqual([])
  })

  it('never replaces a file, makes a folder named with a trailing slash, and says what to do about a missing one', async () => {
    const hr = await keep(startHookrelay(PIPELINE))
    const config = ['--config', join(hr.dir, 'config.yaml')]
    writeFileSync(join(hr.dir, 'taken.db'), 'an earlier backup')
    const taken = await run(['backup', join(hr.dir, 'taken.db'), ...config])
    expect(taken).toMatchObject({ code: 1, stdout: '' })
    expect(taken.stderr).toBe(`hookrelay backup: ${join(hr.dir, 'taken.db')} already exists; a backup never replaces a file: give a new name, or a folder to get a dated name\n`)

    const missing = await run(['backup', join(hr.dir, 'no', 'such', 'copy.db'), ...config])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toBe(`hookrelay backup: the folder ${join(hr.dir, 'no', 'such')} does not exist; make it (owned by the user hookrelay runs as), or name a folder that exists\n`)

    const folder = join(hr.dir, 'backups')
    const made = await run(['backup', `${folder}/`, ...config])
    expect(made.code).toBe(0)
    expect(statSync(folder).mode & 0o777).toBe(0o700)
    expect(readdirSync(folder)).toEqual([expect.stringMatching(/^hookrelay-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.db$/)])

    const deep = await run(['backup', `${join(hr.dir, 'a', 'b')}/`, ...config])
    expect(deep.stderr).toBe(
      `hookrelay backup: could not make the folder ${join(hr.dir, 'a', 'b')}/: the folder above it does not exist; make it, owned by the user hookrelay runs as, or name another\n`,
    )
    expect(existsSync(join(hr.dir, 'a'))).toBe(false)
  })
})

describe('health', () => {
  it('asks the port the config names, not $PORT, and says plainly when nothing answers', async () => {
    const hr = await keep(startHookrelay(PIPELINE))
    const port = new URL(hr.url).port
    const config = join(hr.dir, 'health.yaml')
    writeFileSync(config, `server: { host: 0.0.0.0, port: ${port} }\njournal: { path: ${hr.dbPath} }\n${PIPELINE}`)
    const ok = await run(['health', '--config', config], { env: { PORT: '1' } })
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(new RegExp(`^ok: http://127\\.0\\.0\\.1:${port}/healthz answered 200 \\{"status":"ok"`))

    const idle = await freePort()
    writeFileSync(config, `server: { host: 127.0.0.1, port: ${idle} }\njournal: { path: ${hr.dbPath} }\n${PIPELINE}`)
    const down = await run(['health', '--config', config])
    expect(down).toMatchObject({ code: 1, stdout: '' })
    expect(down.stderr).toBe(`hookrelay health: nothing answers at http://127.0.0.1:${idle}/healthz (ECONNREFUSED); is \`hookrelay serve\` running with this config?\n`)
  })
})
