/**
 * The SSRF rule. End to end with loopback forms only, each refused before any connection; the
 * other special ranges through the address check itself, with no connection attempted.
 */
import type { LookupFunction } from 'node:net'
import { describe, expect, it } from 'vitest'
import { blockedRange, guardedLookup, originIsLiteral } from '../../src/http/address-guard.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay } from '../helpers/hookrelay.js'
import { expectHealthy } from '../helpers/raw.js'
import { startStub, type Stub } from '../helpers/stub.js'

const keep = closeAfterEach()

/** A pipeline whose URL's host comes from the request, and a stub that must never be reached. */
async function setup(allow = false): Promise<{ call: (target: string) => Promise<{ status: number; run: any }>; stub: Stub }> {
  const stub = await keep(startStub())
  const hr = await keep(
    startHookrelay(`
pipelines:
  - id: fetcher
    source: { type: http, key: fetch-key-0123456789, on_error: { status: 502, body: "{{ error.message }}" } }
    actions:
      - id: call
        type: http.request
        url: "http://{{ in.target }}/internal"
        allow_private_network: ${allow}
        retries: 2
`),
  )
  return {
    stub,
    call: async (target) => {
      const res = await hr.call(`/hooks/fetcher/fetch-key-0123456789?target=${encodeURIComponent(target)}`, { method: 'POST' })
      const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
      await expectHealthy(hr)
      return { status: res.status, run }
    },
  }
}

describe('a URL whose host comes from a template', () => {
  it.each([['127.1'], ['2130706433'], ['0x7f000001'], ['[::ffff:127.0.0.1]'], ['[::1]'], ['localhost']])(
    '%s is refused before any connection',
    async (host) => {
      const { call, stub } = await setup()
      const port = new URL(stub.url).port
      const { status, run } = await call(`${host}:${port}`)
      expect(status).toBe(502)
      expect(run.steps[0].error).toMatch(
        /^refused to connect to .+, a loopback address; the URL comes from a template, so only public addresses are allowed \(set allow_private_network: true to allow it\)$/,
      )
      expect(run.steps[0].response).toMatchObject({ attempts: expect.any(Number) })
      expect(stub.requests).toHaveLength(0)
    },
  )

  it('reaches a loopback address when the action sets allow_private_network: true', async () => {
    const { call, stub } = await setup(true)
    const { status, run } = await call(`127.0.0.1:${new URL(stub.url).port}`)
    expect(status).toBe(200)
    expect(run.status).toBe('ok')
    expect(stub.requests).toHaveLength(1)
  })
})

describe('a host written in the config', () => {
  it('is trusted, even on loopback, while its path comes from data', async () => {
    const stub = await keep(startStub())
    const hr = await keep(
      startHookrelay(`
pipelines:
  - id: literal
    source: { type: http, key: literal-key-0123456789 }
    actions:
      - { id: call, type: http.request, url: "${stub.url}/{{ in.path }}" }
`),
    )
    const res = await hr.call('/hooks/literal/literal-key-0123456789', postJson({ path: 'contacts' }))
    expect(res.status).toBe(200)
    expect(stub.requests[0]!.path).toBe('/contacts')
    await expectHealthy(hr)
  })

  it.each([
    ['https://api.example.com/{{ in.path }}', true],
    ['https://api.example.com:8443/v1?x={{ in.x }}', true],
    ['https://api.example.com', true],
    ['{{ in.url }}', false],
    ['https://{{ in.host }}/x', false],
    ['https://api.example.com{{ in.rest }}', false],
    ['http://127.0.0.1:{{ in.port }}/x', false],
    ['https://user@{{ in.host }}/x', false],
  ])('origin of %s is literal: %s', (url, literal) => {
    expect(originIsLiteral(url)).toBe(literal)
  })
})

describe('the address check', () => {
  it.each([
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['fc00::1', 'uniqueLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['224.0.0.1', 'multicast'],
  ])('blocks %s (%s)', (address, range) => {
    expect(blockedRange(address)).toBe(range)
  })

  it.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '93.184.216.34', '2a00:1450:4010::8a'])('allows the public address %s', (address) => {
    expect(blockedRange(address)).toBeUndefined()
  })

  it('fails a name that resolves to any special address, checked after DNS (no query is sent: the resolver is faked)', async () => {
    const fake =
      (answers: string[]): LookupFunction =>
      (_host, _options, callback) =>
        callback(null, answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })), undefined)
    const resolve = (answers: string[]) =>
      new Promise<string>((done) =>
        guardedLookup(fake(answers))('crm.example', { all: true }, (err) => done(err ? err.message : 'allowed')),
      )
    expect(await resolve(['93.184.216.34'])).toBe('allowed')
    expect(await resolve(['93.184.216.34', '169.254.169.254'])).toBe('refused to connect to crm.example (169.254.169.254), a linkLocal address')
    expect(await resolve(['10.1.2.3'])).toBe('refused to connect to crm.example (10.1.2.3), a private address')
  })
})
