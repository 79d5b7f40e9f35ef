/**
 * The production image's layout without a Docker engine: compiled dist/, production
 * dependencies only, migrations and bin beside them, started with the image's command.
 * This catches a runtime import of a dev dependency and a build that does not start.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, serve } from '../helpers/process.js'

const app = mkdtempSync(join(tmpdir(), 'hookrelay-prod-'))
afterAll(() => rmSync(app, { recursive: true, force: true }))

/** What `npm prune --omit=dev` keeps at the top level: our declared runtime dependencies. */
function productionPackages(): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--parseable'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  return out
    .split('\n')
    .filter((line) => line.includes('node_modules'))
    .map((line) => relative(join(ROOT, 'node_modules'), line))
}

describe('production layout (what the Dockerfile builds)', () => {
  it('builds, starts from dist/ with production dependencies only, and answers /healthz', async () => {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), join(app, 'dist')], { stdio: 'inherit' })
    for (const name of productionPackages()) {
      const target = join(app, 'node_modules', name)
      mkdirSync(dirname(target), { recursive: true })
      symlinkSync(join(ROOT, 'node_modules', name), target, 'dir')
    }
    for (const part of ['bin', 'migrations', 'package.json', 'config.example.yaml']) cpSync(join(ROOT, part), join(app, part), { recursive: true })

    const declared = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: object }).dependencies)
    expect(productionPackages().sort()).toEqual(declared.sort())

    const served = await serve([], { cwd: app, env: { NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', JOURNAL_PATH: join(app, 'data', 'j.db') } })
    try {
      const res = await fetch(`${served.address}/healthz`)
      expect(res.status).toBe(200) // src/ is not there: only dist/ could have started
    } finally {
      expect(await served.stop()).toBe(0)
    }
  }, 120_000)
})
