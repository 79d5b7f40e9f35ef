/**
 * What an admin sees when the server cannot start: one line saying what, where and what to do,
 * and exit code 3. Real processes, a real held port, a real second server on the same journal.
 */
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { run, serversAfterEach } from '../helpers/process.js'
import { startStub } from '../helpers/stub.js'

const keep = closeAfterEach()
const { folder, serve } = serversAfterEach('hookrelay-start-')

function config(dir: string, journal: string, upstream = 'http://127.0.0.1:9/unused'): string {
  const path = join(dir, 'config.yaml')
  writeFileSync(
    path,
    `server:
  host: 127.0.0.1
  port: \${PORT:-0}
journal: { path: ${journal}, token: start-journal-token-0123456789 }
pipelines:
  - id: slow
    source: { type: http, key: start-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${upstream}", timeout: 10s }
`,
  )
  return path
}

describe('a second server on the same journal', () => {
  it('stops at once, naming the journal and the first server, which goes on and loses no run', async () => {
    const dir = folder()
    const journal = join(dir, 'data', 'journal.db')
    let release!: () => void
    const released = new Promise<void>((r) => (release = r))
    const upstream = await keep(startStub(async (_req, res) => {
      await released
      res.end('{"ok":true}')
    }))
    const path = config(dir, journal, upstream.url)
    const first = await serve(['--config', path], { cwd: dir })
    const pid = first.child.pid

    // A run in flight in the first server while the second starts.
    const answer = fetch(`${first.address}/hooks/slow/start-key-0123456789`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    await expect.poll(() => upstream.requests.length).toBe(1)

    const second = await run(['serve', '--config', path], { cwd: dir, timeoutMs: 10_000 })
    expect(second.code).toBe(3)
    expect(second.stdout).toBe('')
    expect(second.stderr).toMatch(
      new RegExp(
        `^hookrelay: the journal is in use by another hookrelay \\(pid ${pid}, since \\d{4}-[\\d-]+T[\\d:.]+Z\\) \\(${journal.replaceAll('.', '\\.')}\\): one server per journal: stop the other one first, or give this one its own journal\\.path\\n$`,
      ),
    )

    release()
    expect((await answer).status).toBe(200)
    const db = new Database(journal, { readonly: true })
    expect(db.prepare('SELECT status FROM runs').pluck().all()).toEqual(['ok'])
    db.close()

    // Its commands work beside it; once it stops, the journal is free for the next server.
    expect((await run(['check', '--config', path], { cwd: dir })).code).toBe(0)
    expect((await run(['urls', '--config', path], { cwd: dir })).stdout).toContain('/hooks/slow/start-key-0123456789')
    expect((await run(['backup', join(dir, 'copy.db'), '--config', path], { cwd: dir })).code).toBe(0)
    const copy = new Database(join(dir, 'copy.db'), { readonly: true })
    expect(copy.prepare('SELECT status FROM runs').pluck().all()).toEqual(['ok'])
    copy.close()
    expect(await first.stop()).toBe(0)
    const next = await serve(['--config', path], { cwd: dir })
    expect((await fetch(`${next.address}/healthz`)).status).toBe(200)
  })
})

describe('start-up failures', () => {
  it('a port another program holds: one line and exit 3, and the journal is left free', async () => {
    const holder: Server = createServer()
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r))
    const port = (holder.address() as { port: number }).port
    try {
      const dir = folder()
      const path = config(dir, join(dir, 'journal.db'))
      const result = await run(['serve', '--config', path], { cwd: dir, env: { PORT: String(port) } })
      expect(result).toMatchObject({ code: 3, stdout: '' })
      expect(result.stderr).toBe(`hookrelay: the port is in use by another program (127.0.0.1:${port}): stop that program, or set server.port (or PORT) to a free port\n`)
      const next = await serve(['--config', path], { cwd: dir })
      expect((await fetch(`${next.address}/healthz`)).status).toBe(200)
    } finally {
      await new Promise((r) => holder.close(r))
    }
  })

  it("a journal folder that cannot be made: names it and says whose it must be", async () => {
    const dir = folder()
    writeFileSync(join(dir, 'not-a-folder'), '')
    const journal = join(dir, 'not-a-folder', 'data', 'journal.db')
    const result = await run(['serve', '--config', config(dir, journal)], { cwd: dir })
    expect(result).toMatchObject({ code: 3, stdout: '' })
    expect(result.stderr).toBe(
      `hookrelay: cannot create the journal's folder (${join(dir, 'not-a-folder', 'data')}): make it writable by the user hookrelay runs as (uid ${process.getuid!()}); in Docker, the host folder mounted at /data must be too (chown 1000 it)\n`,
    )
  })

  it('a journal folder it may not write in (a root-owned Docker bind mount): names it, exit 3', async () => {
    const dir = folder()
    const data = join(dir, 'data')
    mkdirSync(data)
    // The folder belongs to someone else: root, with hookrelay as "nobody" (root may write
    // anywhere), or read-only for a test runner that is not root.
    const asRoot = process.getuid!() === 0
    const user = asRoot ? { uid: 65534, gid: 65534 } : {}
    chmodSync(dir, 0o755)
    chmodSync(data, asRoot ? 0o755 : 0o555)
    const result = await run(['serve', '--config', config(dir, join(data, 'journal.db'))], { cwd: dir, ...user })
    expect(result).toMatchObject({ code: 3, stdout: '' })
    expect(result.stderr).toBe(
      `hookrelay: cannot write in the journal's folder (${data}): make it writable by the user hookrelay runs as (uid ${user.uid ?? process.getuid!()}); in Docker, the host folder mounted at /data must be too (chown 1000 it)\n`,
    )
    expect(readdirSync(data)).toEqual([]) // nothing was made
  })

  it('a config that is a folder (what docker -v makes of a missing file): an invalid config, said so', async () => {
    const dir = folder()
    mkdirSync(join(dir, 'config.yaml'))
    const result = await run(['serve'], { cwd: dir })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      'config.yaml: this is a folder, not a file (Docker makes a folder when the file it should mount does not exist: create the file, then mount it)',
    )
  })
})
