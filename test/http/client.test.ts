/** The outbound HTTP core against real local servers: deadlines, retries, redirects, caps. */
import { createServer } from 'node:net'
import { Agent } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { HttpClient, UpstreamError, type HttpCall } from '../../src/http/client.js'
import { parseStatusPattern } from '../../src/http/status-pattern.js'
import { json, startStub, type Stub } from '../helpers/stub.js'

const dispatcher = new Agent({ keepAliveTimeout: 1000 })
const client = new HttpClient({ dispatcher, maxBodyBytes: 64 * 1024, baseBackoffMs: 10 })
let stub: Stub | undefined
afterEach(async () => {
  await stub?.close()
  stub = undefined
})
afterAll(() => dispatcher.close())

const call = (url: string, over: Partial<HttpCall> = {}): HttpCall => ({
  method: 'POST',
  url: new URL(url),
  headers: { 'content-type': 'application/json' },
  body: '{"a":1}',
  timeoutMs: 5000,
  retries: 0,
  success: parseStatusPattern('2**'),
  ...over,
})

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof UpstreamError) return err
    throw err
  }
  throw new Error('expected the call to fail')
}

describe('status patterns', () => {
  it('counts listed statuses as success', async () => {
    stub = await startStub((_r, res) => json(res, 409, { exists: true }))
    const { response } = await client.send(call(stub.url, { success: parseStatusPattern('2**,409') }))
    expect(response.status).toBe(409)
    const err = await failure(client.send(call(stub.url)))
    expect(err.code).toBe('HR_UPSTREAM_STATUS')
    expect(err.message).toBe('upstream answered 409, which is not a success (expected 2**)')
  })

  it.each(['2**', '200', '2**,409', '*0*'])('parses %s', (p) => expect(parseStatusPattern(p).source).toBe(p))
  it.each(['2xx', '2*', '600', ''])('refuses %s', (p) => expect(() => parseStatusPattern(p)).toThrow('is not a status pattern'))
})

describe('retries', () => {
  it('retries 5xx and 429 up to the limit, then fails with the last answer', async () => {
    stub = await startStub((_r, res, n) => json(res, n % 2 ? 503 : 429, { n }))
    const err = await failure(client.send(call(stub.url, { retries: 2 })))
    expect(stub.requests).toHaveLength(3)
    expect(err.attempts).toBe(3)
    expect(err.response?.status).toBe(503)
    expect(err.response?.body).toBe('{"n":3}')
  })

  it('does not retry a 4xx', async () => {
    stub = await startStub((_r, res) => json(res, 400, { message: 'bad' }))
    const err = await failure(client.send(call(stub.url, { retries: 3 })))
    expect(stub.requests).toHaveLength(1)
    expect(err.attempts).toBe(1)
  })

  it('retries a refused connection and reports the network error', async () => {
    const port = await freePort()
    const err = await failure(client.send(call(`http://127.0.0.1:${port}/`, { retries: 2 })))
    expect(err.code).toBe('HR_UPSTREAM_NETWORK')
    expect(err.message).toContain('ECONNREFUSED')
    expect(err.attempts).toBe(3)
  })

  it('gives up when Retry-After reaches past the deadline', async () => {
    stub = await startStub((_r, res) => json(res, 503, {}, { 'retry-after': '120' }))
    const err = await failure(client.send(call(stub.url, { retries: 5, timeoutMs: 2000 })))
    expect(stub.requests).toHaveLength(1)
    expect(err.response?.status).toBe(503)
  })

  it('honours a short Retry-After', async () => {
    stub = await startStub((_r, res, n) => (n === 1 ? json(res, 429, {}, { 'retry-after': '1' }) : json(res, 200, { ok: true })))
    const started = Date.now()
    const { response, attempts } = await client.send(call(stub.url, { retries: 1 }))
    expect(response.status).toBe(200)
    expect(attempts).toBe(2)
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
  })
})

describe('deadline, redirects and size', () => {
  it('ends a body that trickles in at the total deadline', async () => {
    stub = await startStub(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      for (let i = 0; i < 20 && !res.destroyed; i++) {
        res.write('x')
        await new Promise((r) => setTimeout(r, 200))
      }
      res.end()
    })
    const started = Date.now()
    const err = await failure(client.send(call(stub.url, { timeoutMs: 800, retries: 2 })))
    expect(err.code).toBe('HR_UPSTREAM_TIMEOUT')
    expect(err.message).toBe('no complete answer within 800ms')
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('ends every call of a stopped run at once: one waiting for its answer, one waiting to retry', async () => {
    stub = await startStub(async (req, res) => {
      if (req.path === '/busy') return json(res, 503, {}, { 'retry-after': '3' })
      await new Promise((r) => setTimeout(r, 3000)) // answers after the stop
      if (!res.destroyed) json(res, 200, { late: true })
    })
    const stop = new AbortController()
    const started = Date.now()
    const calls = [client.send(call(`${stub.url}/slow`), stop.signal), client.send(call(`${stub.url}/busy`, { retries: 2 }), stop.signal)].map(failure)
    setTimeout(() => stop.abort(), 300)
    const [slow, busy] = await Promise.all(calls)
    expect(slow!.code).toBe('HR_RUN_ABORTED')
    expect(busy!.code).toBe('HR_UPSTREAM_STATUS') // its last answer, a 503: the pause for Retry-After was cut short
    expect(busy!.response?.status).toBe(503)
    expect(stub.requests.filter((r) => r.path === '/busy')).toHaveLength(1)
    expect(Date.now() - started).toBeLessThan(2000)
    // A call made with a signal that has stopped already does not go out.
    const before = stub.requests.length
    expect((await failure(client.send(call(`${stub.url}/slow`), stop.signal))).code).toBe('HR_RUN_ABORTED')
    expect(stub.requests).toHaveLength(before)
  })

  it('does not follow a redirect', async () => {
    stub = await startStub((_r, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' })
      res.end()
    })
    const err = await failure(client.send(call(stub.url)))
    expect(err.response?.status).toBe(302)
    expect(err.response?.headers['location']).toBe('http://127.0.0.1:1/elsewhere')
    expect(stub.requests).toHaveLength(1)
  })

  it('reads a huge answer only up to the cap', async () => {
    stub = await startStub((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      const chunk = Buffer.alloc(64 * 1024, 'a')
      let sent = 0
      const pump = () => {
        while (sent < 100 && res.write(chunk)) sent++
        if (sent < 100 && !res.destroyed) res.once('drain', pump)
        else res.end()
      }
      res.on('error', () => {})
      pump()
    })
    const { response } = await client.send(call(stub.url))
    expect(response.truncated).toBe(true)
    expect(response.body.length).toBe(64 * 1024)
  })
})

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
