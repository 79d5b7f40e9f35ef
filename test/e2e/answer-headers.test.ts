/**
 * Header values a template renders from data, by Node's rules: a value Node would refuse
 * (Cyrillic, a line break) fails the run once, with our error answer, and the journal keeps
 * that one run with exactly what was sent. One request, one run, whatever the data.
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay } from '../helpers/hookrelay.js'
import { startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

const ADVICE = 'which an HTTP header cannot carry; put such text in the body, or pass it through the url_encode filter'

describe('header values rendered from data', () => {
  it('an answer header Node would refuse fails the run once, answered and journaled alike', async () => {
    const crm = await keep(startStub())
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: lead
    source:
      type: http
      key: lead-key-0123456789
      response: { headers: { X-Lead-Name: "{{ in.name }}" }, body: "ok" }
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/leads", body: { json: { name: "{{ in.name }}" } } }
`),
    )
    const cases: Array<[name: string, problem: string]> = [
      ['Иван', "a character outside Latin-1 ('И'; Cyrillic is such)"],
      ['Ivan\r\nSet-Cookie: session=1', 'a line break'],
    ]
    for (const [name, problem] of cases) {
      const res = await hr.call('/hooks/lead/lead-key-0123456789', postJson({ name }))
      const body = await res.json()
      const runId = res.headers.get('x-hookrelay-run')
      expect(res.status).toBe(500)
      expect(res.headers.get('set-cookie')).toBeNull()
      expect(body).toEqual({
        error: `the response could not be rendered: header 'X-Lead-Name' would contain ${problem}, ${ADVICE}`,
        code: 'HR_RESPONSE_FAILED',
        run_id: runId,
      })
      const run = await hr.journal(`/${runId}`)
      expect(run.status).toBe('failed')
      expect(run.error).toBe(`response: header 'X-Lead-Name' would contain ${problem}, ${ADVICE}`)
      expect(run.response.status).toBe(500)
      expect(JSON.parse(run.response.body)).toEqual(body)
    }
    // The actions ran once per request, and no second ("rejected") run was kept for either.
    expect(crm.requests).toHaveLength(2)
    const { runs } = await hr.journal()
    expect(runs.map((r: { status: string }) => r.status)).toEqual(['failed', 'failed'])
  })

  it('a request header Node would refuse fails the step with the header named, before anything is sent', async () => {
    const crm = await keep(startStub())
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: lead
    source: { type: http, key: lead-key-0123456789 }
    actions:
      - { id: crm, type: http.request, url: "${crm.url}/leads", headers: { X-Lead-Name: "{{ in.name }}" } }
`),
    )
    const res = await hr.call('/hooks/lead/lead-key-0123456789', postJson({ name: 'Иван' }))
    expect(res.status).toBe(500)
    expect(((await res.json()) as { error: string }).error).toBe(
      `action 'crm' failed: header 'X-Lead-Name' would contain a character outside Latin-1 ('И'; Cyrillic is such), ${ADVICE}`,
    )
    expect(crm.requests).toHaveLength(0)
  })
})
