/**
 * Storage faults: the write lock held by another connection past the busy timeout, and a full
 * disk (a size-limited file). Each answers 503 with Retry-After, never a 2xx without its run,
 * and the server recovers once the storage does. A stalled disk cannot grow the memory the
 * journal's waiting work takes past its bound; a writer thread that cannot be revived ends the
 * service.
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

const UNAVAILABLE = { error: 'the journal cannot keep this request right now; retry later', code: 'HR_JOURNAL_UNAVAILABLE' }
const BUSY = { error: 'the journal is behind writing to disk, so this request was not taken; retry in a few seconds', code: 'HR_JOURNAL_BUSY' }

/**
 * Sends `n` requests at once; returns the statuses and the run ids of those answered 2xx. Every
 * 503 must be `refusal`. `statuses` gets each status as it comes.
 */
async function send(hr: TestService, n: number, size = 10, refusal = UNAVAILABLE, arrived: number[] = []) {
  const post = (i: number) => hr.call('/hooks/keep/keep-key-0123456789', postJson({ i, pad: 'p'.repeat(size) }))
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => post(i).then((res) => (arrived.push(res.status), res))))
  const statuses = answers.map((r) => r.status)
  for (const res of answers.filter((r) => r.status === 503)) {
    expect(res.headers.get('retry-after')).toBe('5')
    expect(await res.json()).toEqual(refusal)
  }
  return { statuses, kept: answers.filter((r) => r.status < 300).map((r) => r.headers.get('x-hookrelay-run')!) }
}

/** Samples `read` every 2 ms until stopped; returns the largest value seen. */
function watchMax(read: () => number): () => number {
  let max = read()
  const timer = setInterval(() => (max = Math.max(max, read())), 2)
  return () => {
    clearInterval(timer)
    return Math.max(max, read())
  }
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length

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

describe('a stalled disk: the work waiting for the journal is bounded', () => {
  it('by count: beyond it, new requests get 503 HR_JOURNAL_BUSY at once; those taken are kept when the disk moves', async () => {
    const hr = await keep(startHookrelay(CONFIG, { service: { writer: { maxPendingOps: 20, busyTimeoutMs: 10_000 } } }))
    const { writer } = hr.service
    const first = await send(hr, 1) // by its answer, what the start queued (retention's pass) is written
    const other = new Database(hr.dbPath)
    other.exec('BEGIN IMMEDIATE') // another program holds the write lock: the writer thread waits
    const stopWatching = watchMax(() => writer.pending)
    const arrived: number[] = []
    const sent = send(hr, 60, 10, BUSY, arrived)
    await expect.poll(() => arrived.length, { timeout: 5_000 }).toBe(40) // refused at once, while the disk is stuck
    expect(arrived).toEqual(Array(40).fill(503))
    expect(writer.pending).toBe(20) // held, not grown
    other.exec('ROLLBACK')
    other.close()

    const { statuses, kept } = await sent
    expect(stopWatching()).toBe(20)
    expect([count(statuses, 200), count(statuses, 503)]).toEqual([20, 40])
    expect(runIdsOnDisk(hr).sort()).toEqual([...first.kept, ...kept].sort()) // every 2xx, and only those, has its run
    expect(hr.logs.filter((l) => l.includes('the journal cannot keep up with the disk'))).toHaveLength(1)

    expect((await send(hr, 3)).statuses).toEqual([200, 200, 200]) // room again
    expect(hr.logs.filter((l) => l.includes('the journal caught up'))).toHaveLength(1)
    await expectHealthy(hr)
  })

  it('by bytes: large bodies fill it sooner, and it holds', async () => {
    const limit = 200_000
    const hr = await keep(startHookrelay(CONFIG, { service: { writer: { maxPendingBytes: limit, busyTimeoutMs: 10_000 } } }))
    const { writer } = hr.service
    const first = await send(hr, 1)
    const other = new Database(hr.dbPath)
    other.exec('BEGIN IMMEDIATE')
    const stopWatching = watchMax(() => writer.pendingBytes)
    const arrived: number[] = []
    const sent = send(hr, 40, 20_000, BUSY, arrived)
    await expect.poll(() => arrived.length, { timeout: 5_000 }).toBe(30)
    expect(arrived).toEqual(Array(30).fill(503))
    other.exec('ROLLBACK')
    other.close()

    const { statuses, kept } = await sent
    const most = stopWatching()
    // The bound is checked before each new run: at most one entry (a 20 KB body, kept as text) beyond it.
    expect(most).toBeGreaterThanOrEqual(limit)
    expect(most).toBeLessThan(limit + 25_000)
    expect(count(statuses, 200)).toBe(10)
    expect(count(statuses, 503)).toBe(30)
    expect(runIdsOnDisk(hr).sort()).toEqual([...first.kept, ...kept].sort())
  })
})

describe('the journal writer thread dying', () => {
  it('is replaced, and requests go on; after three deaths in a minute it is not: requests get 503 and the service ends', async () => {
    const fatal: Error[] = []
    const hr = await keep(startHookrelay(CONFIG, { service: { onFatal: (err) => fatal.push(err) } }))
    const { writer } = hr.service
    for (let death = 1; death <= 3; death++) {
      await writer.crashThread()
      const after = await send(hr, 2)
      expect(after.statuses).toEqual([200, 200])
      expect(runIdsOnDisk(hr)).toEqual(expect.arrayContaining(after.kept))
    }
    expect(hr.logs.filter((l) => l.includes('the journal writer stopped unexpectedly; starting a new one'))).toHaveLength(3)
    await expectHealthy(hr)

    expect(fatal).toEqual([])
    await writer.crashThread() // a fourth within the minute: something is wrong with the file or the process
    // The CLI exits 3 here (main.ts), so that systemd or Docker starts hookrelay again.
    expect(fatal.map((e) => e.message)).toEqual(['the journal writer stopped and is not started again: it stopped 4 times within a minute'])
    expect(hr.logs.filter((l) => l.includes('"level":60') && l.includes('hookrelay stops so that its supervisor starts it again'))).toHaveLength(1)
    const refused = await send(hr, 2)
    expect(refused.statuses).toEqual([503, 503])
    expect((await hr.call('/healthz')).status).toBe(503)
  })
})
