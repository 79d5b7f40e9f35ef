/**
 * The durability proof: SIGKILL the server in the middle of a load (a few hundred requests,
 * 20 at a time), restart it, and find the run of every request that was answered 2xx.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { TOKEN } from '../helpers/hookrelay.js'
import { serve, type Served } from '../helpers/process.js'

let dir: string
let served: Served | undefined
afterEach(async () => {
  if (served) await served.stop('SIGKILL')
  served = undefined
  rmSync(dir, { recursive: true, force: true })
})

const TOTAL = 400
const CONCURRENCY = 20
const KILL_AFTER = 150

describe('a power cut under load', () => {
  it('loses no run that was answered 2xx', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-durability-'))
    const db = join(dir, 'journal.db')
    const config = join(dir, 'config.yaml')
    writeFileSync(
      config,
      `server: { host: 127.0.0.1, port: 0 }
journal: { path: ${db}, token: ${TOKEN} }
pipelines:
  - id: intake
    source: { type: http, key: intake-key-0123456789 }
    actions: []
`,
    )
    served = await serve(['--config', config])
    const url = `${served.address}/hooks/intake/intake-key-0123456789`
    const answered: string[] = []
    let next = 0
    let killed = false
    const worker = async () => {
      while (next < TOTAL && !killed) {
        const i = next++
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i, email: `n${i}@example.com` }) }).catch(() => undefined)
        if (res?.ok) answered.push(res.headers.get('x-hookrelay-run')!)
        if (!killed && answered.length >= KILL_AFTER) {
          killed = true
          served!.child.kill('SIGKILL') // mid-flight: other requests are still on their way
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    expect(killed).toBe(true)
    expect(answered.length).toBeGreaterThanOrEqual(KILL_AFTER)

    // Restart on the same file: recovery runs, and every answered request is there.
    served = await serve(['--config', config])
    const file = new Database(db, { readonly: true })
    const kept = new Set(file.prepare('SELECT id FROM runs').pluck().all() as string[])
    const integrity = file.pragma('integrity_check', { simple: true })
    file.close()
    const lost = answered.filter((id) => !kept.has(id))
    expect(lost).toEqual([])
    expect(integrity).toBe('ok')
  }, 60_000)
})
