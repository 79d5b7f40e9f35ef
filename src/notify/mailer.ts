/** Sending letters through notify.email.smtp (nodemailer), with short timeouts and a total deadline. */
import type { Transporter } from 'nodemailer'
import { formatDuration } from '../config/duration.js'
import { hookrelayError } from '../errors.js'

export interface Letter {
  from?: string | undefined
  to: string[]
  subject: string
  text?: string | undefined
  html?: string | undefined
  replyTo?: string | undefined
}

export interface Sent {
  messageId: string
  accepted: string[]
  rejected: string[]
  response: string
}

export const DEFAULT_EMAIL_TIMEOUT_MS = 10_000

export class Mailer {
  #transport: Promise<Transporter> | undefined
  readonly #smtpUrl: string
  readonly #timeoutMs: number
  readonly #from: string

  /** Nothing is loaded or connected until the first letter. */
  constructor(smtpUrl: string, from: string, timeoutMs = DEFAULT_EMAIL_TIMEOUT_MS) {
    this.#smtpUrl = smtpUrl
    this.#from = from
    this.#timeoutMs = timeoutMs
  }

  #connect(): Promise<Transporter> {
    // nodemailer gives up on a silent server before send()'s deadline does, so that a send
    // counted as failed is not delivered later anyway (and then sent again).
    if (!this.#transport) {
      const t = this.#timeoutMs / 2
      const transport = import('nodemailer').then((m) =>
        m.default.createTransport({ url: this.#smtpUrl, connectionTimeout: t, greetingTimeout: t, socketTimeout: t }),
      )
      transport.catch(() => {
        if (this.#transport === transport) this.#transport = undefined // the next letter tries again
      })
      this.#transport = transport
    }
    return this.#transport
  }

  /** Sends within `timeoutMs` (connect, dialogue and data) or throws HR_EMAIL_FAILED. */
  async send(letter: Letter, timeoutMs = DEFAULT_EMAIL_TIMEOUT_MS): Promise<Sent> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from the SMTP server within ${formatDuration(timeoutMs)}`)), timeoutMs)
    })
    try {
      const info = await Promise.race([
        this.#connect().then((transport) => transport.sendMail({
          from: letter.from ?? this.#from,
          to: letter.to,
          subject: letter.subject,
          text: letter.text,
          html: letter.html,
          replyTo: letter.replyTo,
        })),
        deadline,
      ])
      return {
        messageId: String(info.messageId),
        accepted: (info.accepted ?? []).map(String),
        rejected: (info.rejected ?? []).map(String),
        response: String(info.response),
      }
    } catch (err) {
      throw hookrelayError('HR_EMAIL_FAILED', [(err as Error).message], { cause: err })
    } finally {
      clearTimeout(timer)
    }
  }

  close(): void {
    void this.#transport?.then((transport) => transport.close()).catch(() => {})
  }
}
