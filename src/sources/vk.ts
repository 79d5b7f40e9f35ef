/**
 * `vk`: the VK Callback API of a community («Управление → Работа с API → Callback API»). VK
 * first sends `type: confirmation` and expects the code as the whole plain-text answer; every
 * other event is answered `ok`, or VK sends it again and, after several errors, stops. A wrong
 * `secret` is refused with 403. Facts and what is not verified: ../shared/apis/LEAD-SOURCES.md,
 * section 2.
 */
import type { WebhookSourceConfig } from '../config/schema.js'
import { hookrelayError } from '../errors.js'
import { sameSecret } from '../secrets/compare.js'
import type { SecretShape } from '../secrets/names.js'
import { ownFields } from './body.js'
import type { IncomingRequest } from './incoming.js'
import { textAnswer, type Fields, type Preset } from './preset.js'

type VkConfig = Extract<WebhookSourceConfig, { type: 'vk' }>

/**
 * An answer is `{ key, answer }`: its `key` (first_name, phone_number, custom_0 ...) is the
 * form's data, not a secret by its own name, and the answer is secret when its key names one.
 */
const VK_SHAPE: SecretShape = { pairs: [{ name: 'key', value: 'answer' }] }

export function vkPreset(config: VkConfig): Preset {
  return {
    methods: ['POST'],
    respond: 'on_receipt',
    response: textAnswer('ok'),
    // «Unique event id. If it passed twice or more - you should ignore it.»
    dedupe: "{{ in.event_id | default: '' }}",
    screen(req) {
      const body = envelope(req)
      const given = typeof body['secret'] === 'string' ? body['secret'] : undefined
      // Checked first, as VK's own SDK does: a wrong secret gets nothing, not even the code. VK's
      // docs show the confirmation request without a secret (whether it carries one is not
      // verified): without one it is let through; an event never is.
      const confirmation = body['type'] === 'confirmation'
      if (config.secret !== undefined && !(confirmation && given === undefined) && !sameSecret(given, config.secret)) {
        return { refuse: hookrelayError('HR_WRONG_SECRET') }
      }
      if (confirmation) {
        // The code is the config's, sent as written (an answer's constant text is the operator's).
        return { handshake: { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: config.confirmation }, note: 'VK confirmation request: answered the confirmation code' }
      }
      return undefined
    },
    readFields: readVkFields,
    shape: VK_SHAPE,
  }
}

function envelope(req: IncomingRequest): Record<string, unknown> {
  const body = req.body.value
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
}

/**
 * `in.type` and `in.event_id`, `in.group_id`; for `lead_forms_new` the lead's ids and form name
 * and one field per answer, by its key (`first_name`, `phone_number`, `custom_0` ...); for any
 * other event the object's own fields. Ids come as text, whatever JSON type VK used.
 */
export function readVkFields(req: IncomingRequest): Fields {
  const body = envelope(req)
  const fields: Record<string, unknown> = Object.create(null)
  fields['type'] = text(body['type'])
  fields['event_id'] = text(body['event_id'])
  fields['group_id'] = text(body['group_id'])
  const object = typeof body['object'] === 'object' && body['object'] !== null ? ownFields(body['object'] as Record<string, unknown>) : Object.create(null)
  if (body['type'] !== 'lead_forms_new') {
    for (const [key, value] of Object.entries(object)) fields[key] ??= value
    return { fields, warnings: [] }
  }
  for (const key of ['lead_id', 'group_id', 'user_id', 'form_id', 'form_name', 'ad_id']) {
    if (object[key] !== undefined && object[key] !== null) fields[key] = text(object[key])
  }
  const warnings: string[] = []
  for (const answer of Array.isArray(object['answers']) ? object['answers'] : []) {
    const { key, answer: value } = (answer ?? {}) as { key?: unknown; answer?: unknown }
    if (typeof key !== 'string' || key === '') {
      warnings.push('an answer without a key was left out')
      continue
    }
    if (key in fields) {
      warnings.push(`an answer keyed '${key}' was left out: in.${key} is the lead's own`)
      continue
    }
    fields[key] = answerText(value)
  }
  return { fields, warnings }
}

function text(value: unknown): string {
  return value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/** A plain answer as it is; a checkbox's list of {key, value} (not verified for the callback) as its values joined. */
function answerText(value: unknown): string {
  if (!Array.isArray(value)) return text(value)
  return value.map((item) => (typeof item === 'object' && item !== null ? text((item as { value?: unknown }).value) : text(item))).join(', ')
}

/** Where the URL and the codes go in VK, for `hookrelay urls` (the secret's value is not printed: it is in your environment). */
export const VK_STEPS = [
  'VK community: «Управление» → «Работа с API» → «Callback API» → «Настройки сервера»: paste the URL above into «Адрес»; «Секретный ключ»: the value of `secret` (VK_SECRET)',
  'copy «Строка, которую должен вернуть сервер» into `confirmation` (VK_CONFIRMATION), restart hookrelay, then «Подтвердить»',
  '«Типы событий»: tick «Лид-формы → Новая заявка» (lead_forms_new)',
]
