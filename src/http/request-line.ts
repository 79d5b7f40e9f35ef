/**
 * The request line of a request Node's HTTP parser refused, read from the bytes it refused
 * (`err.rawPacket`), and the one repair hookrelay makes: a request target holding raw UTF-8 or
 * spaces, as sent by senders that put values into a URL without percent-encoding them, is
 * percent-encoded. Nothing else of the request is touched.
 */

/** A request line as sent: `GET /hooks/x/key?name=Иван Петров HTTP/1.1`. */
export interface RequestLine {
  method: string
  /** The target's bytes as text (UTF-8; a byte that is not becomes U+FFFD): for the log and the journal. */
  target: string
  /** The whole line as text. */
  text: string
  /** Where the line's CRLF starts in the packet. */
  end: number
}

const LINE = /^([A-Z]+) (.+) (HTTP\/1\.[01])$/
/** The only bytes encoded: those the strict parser refuses in a target, and that cannot end a line or a request. */
const NEEDS_ENCODING = (byte: number) => byte >= 0x80 || byte === 0x20
/** A control character anywhere in the line (tab included) means no repair: that is not a sender's careless URL. */
const CONTROL = /[\x00-\x1f\x7f]/

/** True when `packet` begins like a request line (a method and a space) but holds no line end yet. */
export function startsRequestLine(packet: Buffer): boolean {
  return /^[A-Z]+ [^\r\n]/.test(packet.toString('latin1', 0, 32)) && !packet.includes('\r\n') && packet.length <= MAX_LINE_BYTES
}

/** A request line is at most this long: Node refuses longer heads anyway (431). */
const MAX_LINE_BYTES = 16 * 1024

/**
 * The request line at the start of `packet`, when it is complete there: a method, a target and
 * the last ` HTTP/1.x` before the line's CRLF. Undefined when the packet does not begin with one
 * (the request began in an earlier packet, or a request before it was in this one).
 */
export function readRequestLine(packet: Buffer): RequestLine | undefined {
  const end = packet.indexOf('\r\n')
  if (end <= 0) return undefined
  const latin1 = packet.toString('latin1', 0, end)
  const match = LINE.exec(latin1)
  if (!match) return undefined
  const [, method, target] = match as unknown as [string, string, string]
  const start = method.length + 1
  return {
    method,
    target: packet.toString('utf8', start, start + target.length),
    text: packet.toString('utf8', 0, end),
    end,
  }
}

/**
 * The packet with its request target percent-encoded, when that is the request line's only
 * fault: it holds bytes of 0x80 and above or spaces, and no control character. Undefined
 * otherwise (the line is fine, or broken in another way, or not complete in this packet).
 */
export function encodeRequestTarget(packet: Buffer): Buffer | undefined {
  const line = readRequestLine(packet)
  if (!line) return undefined
  const latin1 = packet.toString('latin1', 0, line.end)
  const [, method, target, version] = LINE.exec(latin1) as unknown as [string, string, string, string]
  if (CONTROL.test(latin1)) return undefined
  let encoded = ''
  let changed = false
  for (let i = 0; i < target.length; i++) {
    const byte = target.charCodeAt(i) // latin1: one char per byte
    if (!NEEDS_ENCODING(byte)) encoded += target[i]
    else {
      encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
      changed = true
    }
  }
  if (!changed) return undefined
  return Buffer.concat([Buffer.from(`${method} ${encoded} ${version}`, 'latin1'), packet.subarray(line.end)])
}
