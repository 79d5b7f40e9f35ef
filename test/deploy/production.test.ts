/**
 * A production install from npm, the way the README tells an admin without Docker to do it: a
 * copy of the checkout, `npm ci --omit=dev`, then `npm start`. The install builds dist/ itself
 * (postinstall), with runtime dependencies only, so this catches a build step that needs a dev
 * dependency and a start that does.
 *
 * The install runs offline from npm's cache (which the CI's own `npm ci` filled) and with
 * --ignore-scripts, as better-sqlite3's install script would go to the network for a prebuilt
 * addon: the addon is copied from the checkout instead, and our postinstall is run as npm runs
 * it. Everything else is what an admin gets.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BROKEN_CONFIG, BROKEN_LINES } from '../helpers/broken-config.js'
import { ROOT, run, serve } from '../helpers/process.js'

const app = mkdtempSync(join(tmpdir(), 'hookrelay-prod-'))
afterAll(() => rmSync(app, { recursive: true, force: true }))

function npm(args: string[]): string {
  return execFileSync('npm', args, { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } })
}

describe('production install from npm (npm ci --omit=dev, npm start)', () => {
  it('builds at install, starts from dist/ with runtime dependencies only, and answers /healthz', async () => {
    for (const part of ['bin', 'scripts', 'src', 'migrations', 'package.json', 'package-lock.json', 'config.example.yaml']) cpSync(join(ROOT, part), join(app, part), { recursive: true })
    npm(['ci', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'])
    cpSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))
    npm(['run', 'postinstall'])
    expect(existsSync(join(app, 'dist/hookrelay.mjs'))).toBe(true)
    expect(existsSync(join(app, 'node_modules/tsx'))).toBe(false) // so bin/hookrelay.js can only run dist/

    // The bundle's validator is precompiled: it must report exactly what the sources report.
    writeFileSync(join(app, 'broken.yaml'), BROKEN_CONFIG)
    const checked = await run(['check', '--config', 'broken.yaml'], { cwd: app, bin: join(app, 'bin/hookrelay.js') })
    expect(checked.code).toBe(1)
    expect(checked.stderr).toBe((await run(['check', '--config', join(app, 'broken.yaml')])).stderr.replaceAll(join(app, 'broken.yaml'), 'broken.yaml'))
    for (const line of BROKEN_LINES) expect(checked.stderr).toContain(line)

    const served = await serve([], {
      argv: ['npm', 'start'],
      cwd: app,
      env: { NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', JOURNAL_PATH: join(app, 'data', 'j.db') },
    })
    try {
      const res = await fetch(`${served.address}/healthz`)
      expect(res.status).toBe(200)
    } finally {
      // npm does not pass a SIGTERM on (it would end and leave hookrelay running): a service
      // manager stops hookrelay itself, by its own pid, as here; npm then ends with its code.
      const pid = Number(/"pid":(\d+)/.exec(served.output())?.[1])
      process.kill(pid, 'SIGTERM')
      expect(await served.exited).toBe(0)
    }
    expect(served.output()).toContain('hookrelay stopped')
  }, 120_000)
})
