/**
 * Storage faults: the write lock held by another connection past the busy timeout, and a full
 * disk (a size-limited file). Each answers 503 with Retry-After, never a 2xx without its run,
 * and the server recovers once the storage does.
 */
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay, type TestService } from '../helpers/hookrelay.js'
import { expectHealthy } from '../helpers/raw.js'

const keep = closeAfterEach()
const CONFIG = `
pipelines:
  - id: keep
    source: { type: http, key: keep-key-0123456789 }
    actions: []
`

/** Sends `n` requests; returns the run ids of those answered 2xx and the statuses. */
async function send(hr: TestService, n: number, size = 10) {
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => hr.call('/hooks/keep/keep-key-0123456789', postJson({ i, pad: 'p'.repeat(size) }))))
  const statuses = answers.map((r) => r.status)
  for (const res of answers.filter((r) => r.status === 503)) {
    expect(res.headers.get('retry-after')).toBe('5')
    expect(await res.json()).toEqual({ error: 'the journal cannot keep this request right now; retry later', code: 'HR_JOURNAL_UNAVAILABLE' })
  }
  return { statuses, kept: answers.filter((r) => r.status < 300).map((r) => r.headers.get('x-hookrelay-run')!) }
}

function runIdsOnDisk(hr: TestService): string[] {
  const db = new Database(hr.dbPath, { readonly: true })
  try {
    return db.prepare('SELECT id FROM runs').pluck().all() as string[]
  } finally {
    db.close()
  }
}

describe('storage faults', () => {
  it('another connection holding the write lock: 503 with Retry-After, then recovery', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    const other = new Database(hr.dbPath)
    other.exec('BEGIN IMMEDIATE')
    const during = await send(hr, 3)
    expect(during.statuses).toEqual([503, 503, 503])
    other.exec('ROLLBACK')
    other.close()

    const after = await send(hr, 3)
    expect(after.statuses).toEqual([200, 200, 200])
    expect(runIdsOnDisk(hr).sort()).toEqual(after.kept.sort()) // every 2xx, and only those, has its run
    await expectHealthy(hr)
  })

  it('a full disk: 503 while full, recovery when space returns, integrity_check ok', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    const { writer } = hr.service
    await send(hr, 2)
    await writer.pragma('incremental_vacuum') // no free pages left inside the file either
    await writer.pragma(`max_page_count = ${(await writer.pragma('page_count')) as number}`) // the "disk" is full

    const full = await send(hr, 5, 20_000)
    expect(full.statuses).toEqual([503, 503, 503, 503, 503])
    expect((await hr.call('/healthz')).status).toBe(503)

    await writer.pragma('max_page_count = 1073741823') // space returns
    const after = await send(hr, 3)
    expect(after.statuses).toEqual([200, 200, 200])
    await expectHealthy(hr)

    const onDisk = runIdsOnDisk(hr)
    for (const id of [...full.kept, ...after.kept]) expect(onDisk).toContain(id)
    expect(hr.service.db.pragma('integrity_check', { simple: true })).toBe('ok')
  })
})

describe('the journal writer thread dying', () => {
  it('is replaced, and requests go on; after three deaths in a minute it is not, and requests get 503', async () => {
    const hr = await keep(startHookrelay(CONFIG))
    const { writer } = hr.service
    for (let death = 1; death <= 3; death++) {
      await writer.crashThread()
      const after = await send(hr, 2)
      expect(after.statuses).toEqual([200, 200])
      expect(runIdsOnDisk(hr)).toEqual(expect.arrayContaining(after.kept))
    }
    expect(hr.logs.filter((l) => l.includes('the journal writer stopped unexpectedly; starting a new one'))).toHaveLength(3)
    await expectHealthy(hr)

    await writer.crashThread() // a fourth within the minute: something is wrong with the file or the process
    const refused = await send(hr, 2)
    expect(refused.statuses).toEqual([503, 503])
    expect((await hr.call('/healthz')).status).toBe(503)
  })
})
