/**
 * Handing a socket back to Node's HTTP server with new bytes in front of what it has not read
 * yet: the repaired start of a request the parser refused. The server then parses that request
 * from its first byte with its own strict parser, on the same connection, as a new one.
 *
 * It takes the socket off its spent parser the way Node itself does when a request upgrades
 * (lib/_http_server.js, onParserExecuteCommon: the listeners off, the parser unconsumed,
 * finished and freed), and then lets the server's connection listener set the socket up again.
 * The listeners are recognised by the names Node gives them; when a Node version names them
 * otherwise, or the socket has listeners that are not Node's, nothing is touched and the
 * request is refused as before (a test on every run notices).
 */
import { createRequire } from 'node:module'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/** Node's own listeners on a server socket, by event, as lib/_http_server.js names them (Node 20 to 24). */
const NODE_LISTENERS: Record<string, readonly string[]> = {
  data: ['bound socketOnData'],
  end: ['bound socketOnEnd'],
  close: ['bound socketOnClose'],
  drain: ['bound socketOnDrain'],
  timeout: ['socketOnTimeout'],
  resume: ['onSocketResume'],
  pause: ['onSocketPause'],
}

/** Listeners of net.Socket itself, which stay. */
const SOCKET_LISTENERS = ['onReadableStreamEnd']

interface Parser {
  _consumed?: boolean
  unconsume(): void
  finish(): unknown
}

type HttpSocket = Socket & { parser?: Parser | null; server?: Server; _httpMessage?: unknown }

// `_http_common` is one of Node's public legacy modules; freeParser is how Node itself lets a parser go.
const freeParser = (createRequire(import.meta.url)('_http_common') as { freeParser?: (parser: Parser, req: null, socket: Socket) => void }).freeParser

/** Parses `bytes`, then the rest of the socket, as a new connection; false when that cannot be done safely. */
export function parseAgain(socket: Socket, bytes: Buffer): boolean {
  if (!detach(socket)) return false
  handBack(socket, bytes)
  return true
}

/**
 * Takes the socket off its spent parser: from now on its data reaches only listeners of ours,
 * until handBack(). False (and nothing touched) when that cannot be done safely.
 */
export function detach(socket: Socket): boolean {
  const s = socket as HttpSocket
  const { parser, server } = s
  // An answer still going out to an earlier request on this connection would lose its place in line.
  if (!parser || !server || typeof freeParser !== 'function' || !s.readable || s._httpMessage || !onlyNodeListeners(s)) return false
  for (const [event, names] of Object.entries(NODE_LISTENERS)) {
    for (const listener of s.listeners(event)) if (names.includes(listener.name)) s.removeListener(event, listener as (...args: unknown[]) => void)
  }
  if (parser._consumed) parser.unconsume()
  parser._consumed = false
  parser.finish()
  freeParser(parser, null, s)
  return true
}

/** Gives a detached socket back to its server, with `bytes` read first. */
export function handBack(socket: Socket, bytes: Buffer): void {
  const server = (socket as HttpSocket).server!
  socket.unshift(bytes)
  server.emit('connection', socket)
  socket.resume() // paused while a request line was being completed, or never: both read on now
}

/** True when every listener on the events Node's server uses is one of Node's. */
function onlyNodeListeners(socket: Socket): boolean {
  return Object.entries(NODE_LISTENERS).every(([event, names]) =>
    socket.listeners(event).every((l) => names.includes(l.name) || SOCKET_LISTENERS.includes(l.name)),
  )
}
