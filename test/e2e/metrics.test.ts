/**
 * GET /metrics (Prometheus text, behind the journal token) after real traffic, and the log line
 * an admin with a wrong URL sees; server.log_level and LOG_LEVEL.
 */
import { describe, expect, it } from 'vitest'
import { loadConfigText } from '../../src/config/load.js'
import { createHttpClient } from '../../src/http/client.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay, TOKEN } from '../helpers/hookrelay.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

/** The value of one sample line, e.g. `hookrelay_runs_total{pipeline="a",status="ok"}`. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

describe('GET /metrics', () => {
  it('counts runs, steps, answers and requests that found no pipeline; behind the journal token', async () => {
    const crm = await keep(startStub((req, res) => json(res, JSON.parse(req.body).fail ? 500 : 200, {})))
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: leads
    source: { type: http, key: leads-key-0123456789, methods: [POST] }
    actions:
      - { id: crm, type: http.request, url: "${crm.url}", body: { json: { fail: "{{ in.fail | default: '' }}" } } }
`),
    )
    const hook = '/hooks/leads/leads-key-0123456789'
    expect((await hr.call(hook, postJson({ n: 1 }))).status).toBe(200)
    expect((await hr.call(hook, postJson({ fail: 'yes' }))).status).toBe(502)
    expect((await hr.call(hook, { method: 'GET' })).status).toBe(405)
    for (let i = 0; i < 3; i++) expect((await hr.call('/hooks/leads/wrong-key-0123456789', postJson({}))).status).toBe(404)
    expect((await hr.call('/hooks/nope/whatever', postJson({}))).status).toBe(404)

    expect((await hr.call('/metrics')).status).toBe(401)
    const res = await hr.call('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const text = await res.text()
    expect(sample(text, 'hookrelay_runs_total{pipeline="leads",status="ok"}')).toBe(1)
    expect(sample(text, 'hookrelay_runs_total{pipeline="leads",status="failed"}')).toBe(1)
    expect(sample(text, 'hookrelay_runs_total{pipeline="leads",status="rejected"}')).toBe(1)
    expect(sample(text, 'hookrelay_run_duration_seconds_count{pipeline="leads"}')).toBe(3)
    expect(sample(text, 'hookrelay_step_duration_seconds_count{type="http.request",status="ok"}')).toBe(1)
    expect(sample(text, 'hookrelay_step_duration_seconds_count{type="http.request",status="failed"}')).toBe(1)
    expect(sample(text, 'hookrelay_answers_total{code="200"}')).toBe(1)
    expect(sample(text, 'hookrelay_answers_total{code="502"}')).toBe(1)
    expect(sample(text, 'hookrelay_answers_total{code="405"}')).toBe(1)
    expect(sample(text, 'hookrelay_answers_total{code="404"}')).toBe(4)
    expect(sample(text, 'hookrelay_not_found_total{reason="wrong_key"}')).toBe(3)
    expect(sample(text, 'hookrelay_not_found_total{reason="unknown_pipeline"}')).toBe(1)
    expect(sample(text, 'hookrelay_journal_commit_seconds_count')).toBeGreaterThanOrEqual(3)
    expect(sample(text, 'hookrelay_journal_queue_depth')).toBe(0)
    expect(sample(text, 'hookrelay_letters_waiting')).toBe(0)
    expect(text).not.toContain('leads-key-0123456789')
    expect(text).not.toContain('wrong-key')

    // The admin who pasted a wrong URL sees it in the log, once a minute at most, key hidden.
    const wrongKey = hr.logs.filter((l) => l.includes("a request for pipeline 'leads' came with a wrong key"))
    expect(wrongKey).toHaveLength(1)
    expect(JSON.parse(wrongKey[0]!)).toMatchObject({ level: 30, path: '/hooks/leads/***' })
    const unknown = hr.logs.filter((l) => l.includes("a request came for pipeline 'nope', which the config does not have (404; it has: leads)"))
    expect(unknown).toHaveLength(1)
  })

  it('is off with the journal API', async () => {
    const hr = await keep(startHookrelay('pipelines: []\n', { token: null }))
    const res = await hr.call('/metrics')
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: 'the journal API is off: set journal.token in the config', code: 'HR_JOURNAL_DISABLED' })
  })
})

describe('log level', () => {
  const { http, close } = createHttpClient()
  const level = (yaml: string, env: NodeJS.ProcessEnv = {}) => loadConfigText(`${yaml}pipelines: []\n`, 'config.yaml', { http, env }).settings.logLevel

  it('is info by default, LOG_LEVEL when it names a level, and server.log_level above both', async () => {
    expect(level('')).toBe('info')
    expect(level('', { LOG_LEVEL: 'DEBUG' })).toBe('debug')
    expect(level('', { LOG_LEVEL: 'verbose' })).toBe('info') // a typo does not silence the log
    expect(level('server: { log_level: warn }\n', { LOG_LEVEL: 'debug' })).toBe('warn')
    expect(() => level('server: { log_level: loud }\n')).toThrow(/config.yaml:1:\d+ server.log_level: .*fatal, error, warn, info, debug, trace/)
    await close()
  })
})
