/** `email.send`: sends a letter through notify.email.smtp. */
import { Type } from '@sinclair/typebox'
import { parseDuration } from '../config/duration.js'
import { Duration } from '../config/schema-kit.js'
import { hookrelayError } from '../errors.js'
import { DEFAULT_EMAIL_TIMEOUT_MS } from '../notify/mailer.js'
import { actionSchema, defineAction } from './types.js'

const schema = actionSchema(
  'email.send',
  {
    to: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], { hint: 'an address or a list of addresses', description: 'Recipients (templates); a comma-separated string is split.' }),
    subject: Type.String({ description: 'The subject (a template).' }),
    text: Type.Optional(Type.String({ description: 'The plain-text body (a template).' })),
    html: Type.Optional(Type.String({ description: 'The HTML body (a template).' })),
    from: Type.Optional(Type.String({ description: 'Sender; default notify.email.from.' })),
    reply_to: Type.Optional(Type.String()),
    timeout: Type.Optional(Duration),
  },
  'Sends a letter through notify.email.smtp.',
)

const ADDRESS = /^[^\s@<>,;]+@[^\s@<>,;]+$/

export const emailSend = defineAction({
  type: 'email.send',
  summary: 'Sends a letter (to, subject, text, html) through notify.email.smtp; outputs message_id.',
  outputs: () => ['message_id', 'accepted'],
  schema,
  create(params, build) {
    if (!build.mailer) build.problem([], 'email.send needs notify.email (smtp, from, to) in the config')
    if (params.text === undefined && params.html === undefined) build.problem([], 'give text, html or both')
    const to = (Array.isArray(params.to) ? params.to : [params.to]).map((t, i) => build.template(t, Array.isArray(params.to) ? ['to', i] : ['to']))
    const subject = build.template(params.subject, ['subject'])
    const text = params.text === undefined ? undefined : build.template(params.text, ['text'])
    const html = params.html === undefined ? undefined : build.template(params.html, ['html'])
    const from = params.from === undefined ? undefined : build.template(params.from, ['from'])
    const replyTo = params.reply_to === undefined ? undefined : build.template(params.reply_to, ['reply_to'])
    const timeoutMs = params.timeout === undefined ? DEFAULT_EMAIL_TIMEOUT_MS : (parseDuration(params.timeout) ?? DEFAULT_EMAIL_TIMEOUT_MS)

    return {
      async run(ctx) {
        const recipients = to.flatMap((t) => t.render(ctx.scope).split(',')).map((a) => a.trim()).filter(Boolean)
        const bad = recipients.find((a) => !ADDRESS.test(a))
        if (bad !== undefined || recipients.length === 0) throw hookrelayError('HR_EMAIL_FAILED', [`'${bad ?? ''}' is not an e-mail address`])
        const letter = {
          to: recipients,
          subject: subject.render(ctx.scope).replace(/[\r\n]+/g, ' '),
          text: text?.render(ctx.scope),
          html: html?.render(ctx.scope),
          from: from?.render(ctx.scope),
          replyTo: replyTo?.render(ctx.scope),
        }
        ctx.record({ request: letter })
        const sent = await build.mailer!.send(letter, timeoutMs)
        ctx.record({ response: { ...sent } })
        return { message_id: sent.messageId, accepted: sent.accepted }
      },
    }
  },
})
