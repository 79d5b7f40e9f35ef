/**
 * A failed step's default answer says whose the fault is, so that a sender knows whether to
 * retry: 422 for the caller's own request (no retry can succeed), 502 for a service a step calls
 * (a later retry may), 500 for the config. The run is kept `failed` either way.
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay } from '../helpers/hookrelay.js'
import { startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

const pipelines = (upstream: string) => `pipelines:
  - id: lead
    source: { type: http, key: fault-key-0123456789 }
    actions:
      - { id: parse, type: json.parse, fields: { email: email } }
  - id: relay
    source: { type: http, key: fault-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${upstream}/page", method: GET }
      - { id: read, type: json.parse, from: "{{ steps.call.body }}", fields: { id: id } }
  - id: typo
    source: { type: http, key: fault-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${upstream}/page", method: GET }
      - { id: next, type: http.request, url: "{{ steps.call.status }}/page", method: GET }
`

async function answer(res: Response): Promise<{ status: number; code: string; error: string }> {
  const body = (await res.json()) as { code: string; error: string }
  return { status: res.status, code: body.code, error: body.error }
}

describe('default answers of a failed step', () => {
  it("422 for the caller's request: an empty body, a body that is not JSON, a field it lacks", async () => {
    const upstream = await keep(startStub())
    const hr = await keep(startHookrelay(pipelines(upstream.url)))
    const url = '/hooks/lead/fault-key-0123456789'
    expect(await answer(await hr.call(url, { method: 'POST' }))).toEqual({
      status: 422,
      code: 'HR_INPUT_REJECTED',
      error: "action 'parse' failed: input is not JSON: it is empty",
    })
    const text = await answer(await hr.call(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'name=Ivan' }))
    expect(text).toMatchObject({ status: 422, code: 'HR_INPUT_REJECTED', error: expect.stringMatching(/^action 'parse' failed: input is not JSON: /) })
    expect(await answer(await hr.call(url, postJson({ name: 'Ivan' })))).toEqual({
      status: 422,
      code: 'HR_INPUT_REJECTED',
      error: `action 'parse' failed: field 'email': path ["email"] not found in the input`,
    })
    const runs = (await hr.journal('?pipeline=lead')).runs as Array<{ status: string }>
    expect(runs.map((r) => r.status)).toEqual(['failed', 'failed', 'failed'])
  })

  it("502 for the service a step calls: its failure, or an answer that is not JSON; 500 for the config's mistake", async () => {
    const upstream = await keep(
      startStub((req, res) => {
        res.writeHead(req.path === '/page' ? 200 : 503, { 'content-type': 'text/html' })
        res.end('<html>maintenance</html>')
      }),
    )
    const hr = await keep(startHookrelay(pipelines(upstream.url)))
    const relayed = await answer(await hr.call('/hooks/relay/fault-key-0123456789', postJson({})))
    expect(relayed).toMatchObject({ status: 502, code: 'HR_UPSTREAM_FAILED', error: expect.stringMatching(/^action 'read' failed: input is not JSON: /) })
    const typo = await answer(await hr.call('/hooks/typo/fault-key-0123456789', postJson({})))
    expect(typo).toEqual({ status: 500, code: 'HR_ACTION_FAILED', error: "action 'next' failed: URL '200/page' is not a valid http(s) URL" })
  })
})
