/**
 * The production image's layout without a Docker engine: compiled dist/, production
 * dependencies only, migrations and bin beside them, started with the image's command.
 * This catches a runtime import of a dev dependency and a build that does not start.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, run, serve } from '../helpers/process.js'

const BROKEN = `server: { port: "eighty" }
pipelines:
  - id: Bad_ID
    source: { type: webhook }
    actions:
      - { id: a, type: http.request, url: "https://example.com", methd: POST, timeout: 10 sec }
      - { id: b, type: http.requets }
      - { type: json.parse, fields: {} }
`

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

    // The bundle's validator is precompiled: it must report exactly what the sources report.
    writeFileSync(join(app, 'broken.yaml'), BROKEN)
    const checked = await run(['check', '--config', 'broken.yaml'], { cwd: app, bin: join(app, 'bin/hookrelay.js') })
    expect(checked.code).toBe(1)
    expect(checked.stderr).toBe((await run(['check', '--config', join(app, 'broken.yaml')])).stderr.replaceAll(join(app, 'broken.yaml'), 'broken.yaml'))
    expect(checked.stderr).toContain("broken.yaml:6:66 pipelines[0].actions[0]: unknown key 'methd'")
    expect(checked.stderr).toContain("broken.yaml:8:37 pipelines[0].actions[2].fields: found a map (), expected at least one field (name: path) in pipeline 'Bad_ID'")

    const served = await serve([], { cwd: app, env: { NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', JOURNAL_PATH: join(app, 'data', 'j.db') } })
    try {
      const res = await fetch(`${served.address}/healthz`)
      expect(res.status).toBe(200) // src/ is not there: only dist/ could have started
    } finally {
      expect(await served.stop()).toBe(0)
    }
  }, 120_000)
})
