/** A real HTTP server on 127.0.0.1:0 standing in for an upstream: records requests, answers by handler. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  method: string
  url: string
  path: string
  query: URLSearchParams
  headers: IncomingMessage['headers']
  body: string
}

export type StubHandler = (req: Received, res: ServerResponse, n: number) => void | Promise<void>

export interface Stub {
  url: string
  requests: Received[]
  close(): Promise<void>
}

/** Answers 200 `{"ok":true}` unless a handler says otherwise; `maxHeaderSize` lets it take URLs longer than Node's 16 KB. */
export async function startStub(handler?: StubHandler, options: { maxHeaderSize?: number } = {}): Promise<Stub> {
  const requests: Received[] = []
  const server = createServer(options, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stub')
      const received: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(received)
      Promise.resolve(handler ? handler(received, res, requests.length) : json(res, 200, { ok: true })).catch((err: unknown) => {
        res.destroy(err as Error)
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
  res.end(JSON.stringify(body))
}
