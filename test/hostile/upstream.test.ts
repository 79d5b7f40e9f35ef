/**
 * Upstream faults, all simulated on 127.0.0.1: each ends as a failed step with a clear error,
 * the caller gets the configured error answer, and the server stays healthy.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createHttpsServer } from 'node:https'
import { createServer, type Server, type Socket } from 'node:net'
import type { LookupFunction } from 'node:net'
import { describe, expect, it } from 'vitest'
import { startService } from '../../src/app.js'
import { closeAfterEach } from '../helpers/cleanup.js'
import { postJson, startHookrelay, type TestService } from '../helpers/hookrelay.js'
import { expectHealthy } from '../helpers/raw.js'
import { freePort } from '../helpers/smtp.js'
import { json, startStub } from '../helpers/stub.js'

const keep = closeAfterEach()

/** One pipeline calling `url`, answering failures 502 with the error, as a school would configure it. */
function relay(url: string, extra = '') {
  return keep(
    startHookrelay(`
pipelines:
  - id: relay
    source:
      type: http
      key: relay-key-0123456789
      on_error: { status: 502, body: "failed: {{ error.message }}" }
    actions:
      - id: call
        type: http.request
        url: "${url}"
        body: { json: { email: "{{ in.email }}" } }
        timeout: 1500ms
${extra.replace(/^/gm, '        ')}
`),
  )
}

/** Sends one request and checks the answer, the journal's failed step, and /healthz. */
async function failsWith(hr: TestService, error: string | RegExp) {
  const res = await hr.call('/hooks/relay/relay-key-0123456789', postJson({ email: 'a@b.ru' }))
  expect(res.status).toBe(502)
  const text = await res.text()
  const run = await hr.journal(`/${res.headers.get('x-hookrelay-run')}`)
  expect(run.status).toBe('failed')
  expect(run.steps[0].status).toBe('failed')
  if (typeof error === 'string') expect(run.steps[0].error).toBe(error)
  else expect(run.steps[0].error).toMatch(error)
  expect(text).toBe(`failed: ${run.steps[0].error}`)
  await expectHealthy(hr)
  return run
}

/** A TCP server that accepts and then does `onSocket`; closes its sockets on close. */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    onSocket(socket)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  }
}

describe('upstream faults', () => {
  it('connection refused', async () => {
    const port = await freePort()
    const hr = await relay(`http://127.0.0.1:${port}/x`)
    await failsWith(hr, /^network error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/)
  })

  it('a server that accepts the connection but never answers', async () => {
    const silent = await keep(tcpServer(() => undefined))
    const hr = await relay(`http://127.0.0.1:${silent.port}/x`)
    await failsWith(hr, 'no complete answer within 1500ms')
  })

  it('a server that reads the request but never sends headers', async () => {
    const stub = await keep(startStub(() => new Promise(() => undefined)))
    const hr = await relay(`${stub.url}/x`)
    await failsWith(hr, 'no complete answer within 1500ms')
    expect(stub.requests).toHaveLength(1)
  })

  it('a body that drips 1 byte every 2 s is ended by the total deadline', async () => {
    const stub = await keep(
      startStub(async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        for (let i = 0; i < 30 && !res.destroyed; i++) {
          res.write('x')
          await new Promise((r) => setTimeout(r, 2000))
        }
        res.end()
      }),
    )
    const hr = await relay(`${stub.url}/x`)
    await failsWith(hr, 'no complete answer within 1500ms')
  })

  it.each([500, 502, 503])('%i with Retry-After: bounded retries, then the failure', async (status) => {
    const stub = await keep(startStub((_req, res) => json(res, status, { busy: true }, { 'retry-after': '0' })))
    const hr = await relay(`${stub.url}/x`, 'retries: 2')
    const run = await failsWith(hr, `upstream answered ${status}, which is not a success (expected 2**)`)
    expect(stub.requests).toHaveLength(3)
    expect(run.steps[0].response).toMatchObject({ status, attempts: 3 })
  })

  it('a 4xx is not retried', async () => {
    const stub = await keep(startStub((_req, res) => json(res, 422, { message: 'bad email' })))
    const hr = await relay(`${stub.url}/x`, 'retries: 3')
    await failsWith(hr, 'upstream answered 422, which is not a success (expected 2**)')
    expect(stub.requests).toHaveLength(1)
  })

  it('a 3xx is not followed, not even to 127.0.0.1', async () => {
    const target = await keep(startStub())
    const stub = await keep(
      startStub((_req, res) => {
        res.writeHead(307, { location: `${target.url}/internal-admin` })
        res.end()
      }),
    )
    const hr = await relay(`${stub.url}/x`)
    const run = await failsWith(hr, 'upstream answered 307, which is not a success (expected 2**)')
    expect(run.steps[0].response.headers.location).toBe(`${target.url}/internal-admin`)
    expect(target.requests).toHaveLength(0)
  })

  it('a 100 MB answer is read only up to the cap, and the journal keeps 64 KiB of it', async () => {
    let written = 0
    const stub = await keep(
      startStub((_req, res) => {
        res.writeHead(502, { 'content-type': 'text/plain' })
        const chunk = Buffer.alloc(64 * 1024, 'z')
        res.on('error', () => undefined)
        const pump = () => {
          while (written < 100 * 1024 * 1024 && !res.destroyed) {
            written += chunk.length
            if (!res.write(chunk)) return void res.once('drain', pump)
          }
          res.end()
        }
        pump()
      }),
    )
    const hr = await relay(`${stub.url}/x`)
    const run = await failsWith(hr, 'upstream answered 502, which is not a success (expected 2**)')
    expect(run.steps[0].response.truncated).toBe(true)
    expect(run.steps[0].response.body).toHaveLength(64 * 1024)
    expect(written).toBeLessThan(100 * 1024 * 1024) // the connection was dropped early
  })

  it('a DNS failure (through an injected lookup: no query leaves the machine)', async () => {
    const failing: LookupFunction = (hostname, _options, callback) =>
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '', 4)
    const dir = mkdtempSync(join(tmpdir(), 'hookrelay-dns-'))
    void keep(Promise.resolve({ close: async () => rmSync(dir, { recursive: true, force: true }) }))
    writeFileSync(
      `${dir}/dns.yaml`,
      `server: { host: 127.0.0.1, port: 0 }
journal: { path: ${dir}/dns.db, token: t-0123456789abcdef }
pipelines:
  - id: relay
    source: { type: http, key: relay-key-0123456789, on_error: { status: 502, body: "failed: {{ error.message }}" } }
    actions:
      - { id: call, type: http.request, url: "http://crm.invalid/contacts", timeout: 1500ms, retries: 2 }
`,
    )
    const service = await startService({ configPath: `${dir}/dns.yaml`, env: {}, lookup: failing, log: { level: 'silent' } })
    try {
      const res = await fetch(`${service.address}/hooks/relay/relay-key-0123456789`, { method: 'POST' })
      expect(res.status).toBe(502)
      expect(await res.text()).toBe('failed: network error: getaddrinfo ENOTFOUND crm.invalid')
      expect((await fetch(`${service.address}/healthz`)).status).toBe(200)
    } finally {
      await service.close()
    }
  })

  it('a self-signed certificate on a loopback TLS server fails, with no insecure fallback', async () => {
    let requests = 0
    const tls = createHttpsServer(
      { key: readFileSync('test/fixtures/tls/key.pem'), cert: readFileSync('test/fixtures/tls/cert.pem') },
      (_req, res) => {
        requests++
        res.end('{}')
      },
    )
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()))
    void keep(Promise.resolve({ close: () => new Promise<void>((r) => (tls.closeAllConnections(), tls.close(() => r()))) }))
    const hr = await relay(`https://127.0.0.1:${(tls.address() as { port: number }).port}/x`, 'retries: 2')
    await failsWith(hr, /^network error: .*(self[- ]signed|SELF_SIGNED)/i)
    expect(requests).toBe(0)
  })
})
