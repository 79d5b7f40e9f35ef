/** Raw HTTP over a socket, for requests no well-behaved client would send. */
import { connect } from 'node:net'
import { expect } from 'vitest'
import type { TestService } from './hookrelay.js'

export interface RawAnswer {
  status: number
  head: string
  body: string
  text: string
}

/** Writes `request` (string or parts written with pauses) and reads until the server closes, bounded by `timeoutMs`. */
export function rawRequest(service: TestService, request: string | Buffer, timeoutMs = 5000): Promise<RawAnswer> {
  const { port } = new URL(service.url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request))
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no complete answer within ${timeoutMs} ms: ${Buffer.concat(chunks).toString()}`))
    }, timeoutMs)
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('utf8')
      const [head = '', ...rest] = text.split('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: rest.join('\r\n\r\n'), text })
    })
  })
}

/** After every attack: the server still answers /healthz. */
export async function expectHealthy(service: TestService): Promise<void> {
  const res = await service.call('/healthz')
  expect(res.status).toBe(200)
}

/** Every run the journal holds, newest first, with details. */
export async function allRuns(service: TestService): Promise<any[]> {
  const { runs } = await service.journal('?limit=500')
  return Promise.all(runs.map((r: { id: string }) => service.journal(`/${r.id}`)))
}
