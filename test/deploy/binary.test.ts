/**
 * The single binary, used the way an admin uses it: copied alone into a folder, run beside a
 * config with no Node.js on the PATH and no node_modules anywhere near. It is built here from the
 * current sources; the toolchain it needs (Node 24, the SQLite addon compiled for it) is prepared
 * before the tests by `npm test`'s pretest, so building needs no network.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/journal/db.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { BIZON, params, startBizon } from '../helpers/doubles.js'
import { BROKEN_CONFIG, BROKEN_LINES } from '../helpers/broken-config.js'
import { EXAMPLE_KEY } from '../helpers/hookrelay.js'
import { ROOT, run, serve } from '../helpers/process.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
const TOKEN = 'binary-journal-token-4f1e9a'
const fixture = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test/fixtures/apis', name), 'utf8')) as { headers: Record<string, string>; body: string }

const work = mkdtempSync(join(tmpdir(), 'hookrelay-binary-'))
const exe = join(work, 'bin', 'hookrelay')
/** The admin's folder: a config, and what hookrelay makes there. */
const site = join(work, 'site')
const home = join(work, 'home')
/** A PATH with nothing on it: no node, no npm. */
const nothing = join(work, 'empty-path')
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: nothing, HOME: home, ...extra })
const keep = closeAfterEach()
/** The binary is made for Linux x64 only (scripts/build-binary.mjs); CI is Linux x64. */
const BUILDABLE = process.platform === 'linux' && process.arch === 'x64'

beforeAll(() => {
  if (!BUILDABLE) return
  for (const dir of [site, home, nothing]) mkdirSync(dir, { recursive: true })
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-binary.mjs'), '--offline', '--out', exe], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
}, 300_000)
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe.runIf(BUILDABLE)('the single binary', () => {
  it('says its version and its usage, and exits 0', async () => {
    const version = await run(['--version'], { exe, cwd: site, env: env() })
    expect(version).toMatchObject({ code: 0, stderr: '' })
    expect(version.stdout).toMatch(new RegExp(`^hookrelay ${VERSION.replaceAll('.', '\\.')} \\(Node\\.js v24\\.\\d+\\.\\d+\\)\\n$`))
    const help = await run(['--help'], { exe, cwd: site, env: env() })
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('hookrelay backup PATH [--config PATH]')
  })

  it('checks a broken config with the same messages as the checkout', async () => {
    writeFileSync(join(site, 'broken.yaml'), BROKEN_CONFIG)
    const binary = await run(['check', '--config', 'broken.yaml'], { exe, cwd: site, env: env() })
    const checkout = await run(['check', '--config', 'broken.yaml'], { cwd: site })
    rmSync(join(site, 'broken.yaml'))
    expect(binary.code).toBe(1)
    for (const line of BROKEN_LINES) expect(binary.stderr).toContain(line)
    expect(binary).toEqual(checkout)
  })

  it('serves a Tilda form into Bizon365, journals it, is backed up while it runs, and stops on SIGTERM', async () => {
    const bizon = await keep(startBizon())
    copyFileSync(join(ROOT, 'examples/tilda-to-bizon365.yaml'), join(site, 'config.yaml'))
    const settings = { HOST: '127.0.0.1', PORT: '0', JOURNAL_TOKEN: TOKEN, HOOK_KEY: EXAMPLE_KEY, BIZON_TOKEN: BIZON.token, BIZON_BASE_URL: bizon.url }
    const served = await serve([], { exe, cwd: site, env: env(settings) })
    let stopped = false
    try {
      const path = `${served.address}/hooks/tilda-to-bizon/${EXAMPLE_KEY}`
      for (const name of ['tilda.test-request.json', 'tilda.form-submit.json']) {
        const { headers, body } = fixture(name)
        const res = await fetch(path, { method: 'POST', headers, body })
        expect(res.status).toBe(200)
        expect(await res.text()).toBe('ok')
      }
      await expect.poll(() => bizon.requests.length).toBe(1)
      expect(params(bizon.requests[0]!)).toMatchObject({ pageId: BIZON.pageId, email: 'ivan.petrov@example.com', username: 'Иван' })

      const journal = (await (await fetch(`${served.address}/journal`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { runs: Array<{ status: string }> }
      expect(journal.runs.map((r) => r.status).sort()).toEqual(['ok', 'skipped'])

      // The port the config names (written out here), not $PORT.
      const port = new URL(served.address).port
      writeFileSync(join(work, 'health.yaml'), readFileSync(join(site, 'config.yaml'), 'utf8').replace('${PORT:-8080}', port))
      const health = await run(['health', '--config', join(work, 'health.yaml')], { exe, cwd: site, env: env({ ...settings, PORT: '1' }) })
      expect(health).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ok: http:\/\/127\.0\.0\.1:\d+\/healthz answered 200/) })

      mkdirSync(join(work, 'backups'))
      const backup = await run(['backup', join(work, 'backups')], { exe, cwd: site, env: env(settings) })
      expect(backup.stderr).toBe('')
      expect(backup.code).toBe(0)
      expect(backup.stdout).toMatch(/^backed up \/.*\/site\/data\/hookrelay\.db to .*\/backups\/hookrelay-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.db: 2 runs, [\d.]+ MB\n$/)
      const [copy] = readdirSync(join(work, 'backups'))
      const db = new Database(join(work, 'backups', copy!), { readonly: true })
      expect(db.prepare("SELECT pipeline, status FROM runs WHERE status = 'ok'").all()).toEqual([{ pipeline: 'tilda-to-bizon', status: 'ok' }])
      db.close()

      stopped = true
      expect(await served.stop()).toBe(0)
      expect(served.output()).toContain('hookrelay stopped')
    } finally {
      if (!stopped) await served.stop()
    }
    // Nothing of hookrelay's lands beside the config but the journal; its library went to the user's cache.
    expect(readdirSync(site).sort()).toEqual(['config.yaml', 'data'])
    const cache = join(home, '.cache', 'hookrelay')
    expect(statSync(cache).mode & 0o777).toBe(0o700)
    expect(readdirSync(cache)).toEqual([expect.stringMatching(/^better_sqlite3-[0-9a-f]{16}\.node$/)])
  })

  it('when the cache and temp folders are mounted noexec, loads its library from a folder beside itself', async () => {
    // A journal to back up, made by the checkout.
    const journal = join(work, 'noexec', 'journal.db')
    openDatabase(journal).close()
    writeFileSync(join(work, 'noexec', 'config.yaml'), `journal: { path: ${journal} }\npipelines: []\n`)
    const mounted = join(work, 'noexec', 'mounted')
    mkdirSync(mounted)
    // A mount namespace of its own (unprivileged, through a user namespace) with a noexec tmpfs.
    const inNamespace = [
      '-rm',
      '/bin/sh',
      '-c',
      'mount -t tmpfs -o noexec tmpfs "$0" && mkdir "$0/home" "$0/tmp" && exec "$@"',
      mounted,
      exe,
      'backup',
      join(work, 'noexec', 'copy.db'),
      '--config',
      join(work, 'noexec', 'config.yaml'),
    ]
    const result = await run(inNamespace, { exe: '/usr/bin/unshare', cwd: site, env: { PATH: '/usr/bin:/bin', HOME: join(mounted, 'home'), TMPDIR: join(mounted, 'tmp') } })
    expect(result.stderr).toBe('')
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining('0 runs') })
    expect(readdirSync(join(dirname(exe), '.hookrelay-cache'))).toEqual([expect.stringMatching(/^better_sqlite3-[0-9a-f]{16}\.node$/)])
  })
})
