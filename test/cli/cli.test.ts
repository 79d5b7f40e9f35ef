/** The hookrelay command as an operator runs it: check, urls, serve, and npm start's defaults. */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT, run, serve, type Served } from '../helpers/process.js'

let dir: string
let served: Served | undefined
afterEach(async () => {
  if (served) await served.stop('SIGKILL')
  served = undefined
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function tempConfig(yaml: string): string {
  dir = mkdtempSync(join(tmpdir(), 'hookrelay-cli-'))
  const path = join(dir, 'config.yaml')
  writeFileSync(path, yaml)
  return path
}

const GOOD = `server: { public_url: "https://hooks.example.ru/" }
pipelines:
  - id: crm
    source: { type: http, key: k-0123456789abcdef, methods: [POST] }
    actions:
      - { id: send, type: http.request, url: "https://crm.example.ru/api" }
  - id: open
    enabled: false
    source: { type: http }
    actions: []
`

describe('check', () => {
  it('prints each pipeline with its URL (key masked: printing it is the job of urls) and the warnings, and exits 0', async () => {
    const path = tempConfig(GOOD)
    const { code, stdout, stderr } = await run(['check', '--config', path])
    expect(code).toBe(0)
    expect(stdout).toContain('ok, 2 pipelines')
    expect(stdout).toContain('  crm  http  POST  https://hooks.example.ru/hooks/crm/***')
    expect(stdout).not.toContain('k-0123456789abcdef')
    expect(stdout).toContain('    actions: send (http.request)')
    expect(stdout).toContain('  open (stopped)  http  any method  https://hooks.example.ru/hooks/open')
    expect(stderr).toContain('pipelines[1].source: warning: no key, so anyone who guesses the id can trigger this pipeline')
  })

  it('prints every problem and exits 1', async () => {
    const path = tempConfig(GOOD.replace(' url: "https', ' ur1: "https').replace('type: http }', 'type: htp }'))
    const { code, stderr } = await run(['check', '--config', path])
    expect(code).toBe(1)
    expect(stderr.trim().split('\n')).toEqual([
      `${path}: 3 problems`,
      `${path}:6:9 pipelines[0].actions[0]: missing key 'url' in pipeline 'crm'`,
      `${path}:6:41 pipelines[0].actions[0]: unknown key 'ur1' (allowed: method, url, query, headers, body, success, allow_private_network, timeout, retries, id, type, continue_on_error) in pipeline 'crm'`,
      `${path}:9:21 pipelines[1].source.type: unknown source type 'htp' (allowed: http, getcourse.user, getcourse.order, tilda, vk, facebook.leads, vk_ads.leads) in pipeline 'open'`,
    ])
  })

  it('reads HOOKRELAY_CONFIG when --config is not given', async () => {
    const path = tempConfig(GOOD)
    const { code, stdout } = await run(['check'], { env: { HOOKRELAY_CONFIG: path } })
    expect(code).toBe(0)
    expect(stdout).toContain('ok, 2 pipelines')
  })

  it('refuses an unknown command with usage and exit 2', async () => {
    const { code, stderr } = await run(['chekc'])
    expect(code).toBe(2)
    expect(stderr).toContain("unknown command 'chekc'")
    expect(stderr).toContain('usage: hookrelay')
  })
})

describe('urls', () => {
  it('prints every full URL', async () => {
    const path = tempConfig(GOOD)
    const { code, stdout } = await run(['urls', '--config', path])
    expect(code).toBe(0)
    expect(stdout.trim().split('\n')).toEqual(['crm  https://hooks.example.ru/hooks/crm/k-0123456789abcdef', 'open  https://hooks.example.ru/hooks/open'])
  })
})

describe('serve', () => {
  it('does not start on an invalid file', async () => {
    const path = tempConfig('pipelines:\n  - id: x\n')
    const { code, stderr } = await run(['serve', '--config', path])
    expect(code).toBe(1)
    expect(stderr).toContain("pipelines[0]: missing key 'source'")
    expect(stderr).toContain('not starting')
  })

  it('says where it looked and what to do when the working folder has no config', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-empty-'))
    for (const command of ['serve', 'check', 'urls']) {
      const { code, stderr } = await run([command], { cwd: dir })
      expect(code).toBe(1)
      expect(stderr).toBe(
        `hookrelay: there is no config.yaml in ${dir}. Write one there (docs/configuration.md and the examples/ folder show how), or name yours: --config PATH, or HOOKRELAY_CONFIG=PATH.\n`,
      )
    }
  })

  it('serves config.example.yaml from the working folder when config.yaml is absent, journal in ./data', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-start-'))
    copyFileSync(join(ROOT, 'config.example.yaml'), join(dir, 'config.example.yaml'))
    served = await serve([], { cwd: dir, env: { PORT: '0' } })
    expect(existsSync(join(dir, 'data', 'hookrelay.db'))).toBe(true)
    expect(served.output()).toContain(`"config":"${join(dir, 'config.example.yaml')}"`) // which file is in use
    const health = await fetch(`${served.address}/healthz`)
    expect(health.status).toBe(200)
    expect(await served.stop()).toBe(0)
    served = undefined
  })

  it("refuses the example's demo values on an address others can reach, and check warns about them", async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-demo-'))
    copyFileSync(join(ROOT, 'config.example.yaml'), join(dir, 'config.yaml'))
    const refused = await run(['serve'], { cwd: dir, env: { HOST: '0.0.0.0', PORT: '0' } })
    expect(refused).toMatchObject({ code: 1, stdout: '' })
    const demo = "the example's demo value, known to anyone who has read the example: set your own (openssl rand -hex 16)"
    expect(refused.stderr.split('\n')).toEqual([
      "config.yaml: the config holds the example's demo values, and 0.0.0.0 can be reached from other machines. Set your own values (below), or set server.host (HOST) to 127.0.0.1 to try the example on this machine only; not starting",
      `config.yaml:17:10 journal.token: ${demo}, e.g. in JOURNAL_TOKEN`,
      `config.yaml:34:12 pipelines[0].source.key: ${demo} in pipeline 'lead-to-crm'`,
      `config.yaml:73:12 pipelines[1].source.key: ${demo} in pipeline 'fake-crm'`,
      '',
    ])
    expect(existsSync(join(dir, 'data'))).toBe(false) // refused before anything was made

    const checked = await run(['check'], { cwd: dir })
    expect(checked.code).toBe(0)
    expect(checked.stderr).toContain(`config.yaml:34:12 pipelines[0].source.key: warning: ${demo} in pipeline 'lead-to-crm'`)
  })
})
