/** A real SMTP server (smtp-server) on 127.0.0.1:0 that keeps every letter, parsed (mailparser). */
import { createServer, type AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'

export interface Mailbox {
  port: number
  url: string
  letters: ParsedMail[]
  /** Raw envelopes: who the server was asked to deliver to. */
  recipients: string[][]
  /** Waits until `count` letters have arrived (bounded by `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ParsedMail[]>
  close(): Promise<void>
}

export const SMTP_AUTH = { user: 'hookrelay', pass: 'smtp-pass-9c41e2' }

/** `port` 0 picks a free one; give a port to bring a server up where one was down. */
export async function startSmtp(port = 0, auth = SMTP_AUTH): Promise<Mailbox> {
  const letters: ParsedMail[] = []
  const recipients: string[][] = []
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: false,
    allowInsecureAuth: true,
    onAuth(a, _session, cb) {
      if (a.username === auth.user && a.password === auth.pass) cb(null, { user: a.username })
      else cb(new Error('Invalid username or password'))
    },
    onData(stream, session, cb) {
      simpleParser(stream)
        .then((mail) => {
          letters.push(mail)
          recipients.push(session.envelope.rcptTo.map((r) => r.address))
          cb()
        })
        .catch(cb)
    },
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const bound = (server.server.address() as AddressInfo).port
  return {
    port: bound,
    url: smtpUrl(bound, auth),
    letters,
    recipients,
    async waitFor(count, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs
      while (letters.length < count) {
        if (Date.now() > until) throw new Error(`expected ${count} letters, got ${letters.length}`)
        await new Promise((r) => setTimeout(r, 20))
      }
      return letters
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

export function smtpUrl(port: number, auth = SMTP_AUTH): string {
  return `smtp://${auth.user}:${auth.pass}@127.0.0.1:${port}`
}

/** A port with nothing listening on it (for "SMTP is down"). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}
