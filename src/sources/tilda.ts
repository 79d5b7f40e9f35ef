/**
 * `tilda`: the webhook of a Tilda form («Настройки сайта → Формы → Webhook»). Tilda checks the
 * URL with `test=test` when it is connected, gives up on an answer after 5 s and tries twice
 * more, a minute apart; so it is answered `ok` as soon as a lead is kept. Facts and what is not
 * verified: ../shared/apis/LEAD-SOURCES.md, section 5.
 */
import { hookrelayError } from '../errors.js'
import { jsonDepthExceeds, MAX_JSON_DEPTH } from './body.js'
import type { IncomingRequest } from './incoming.js'
import { inFields } from './incoming.js'
import { textAnswer, type Fields, type Preset } from './preset.js'

export function tildaPreset(): Preset {
  return {
    methods: ['POST'],
    respond: 'on_receipt',
    response: textAnswer('ok'),
    // `tranid` is not verified in Tilda's captures; when it is absent nothing is deduplicated.
    dedupe: "{{ in.tranid | default: '' }}",
    screen(req) {
      // Tilda's check is `test=test` without a formid (cookies may come along when that option is on).
      const fields = req.body.fields
      if (fields['test'] === 'test' && fields['formid'] === undefined) {
        return { handshake: { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'ok' }, note: 'Tilda connection check (test=test): answered ok, nothing run' }
      }
      return undefined
    },
    readFields: readTildaFields,
  }
}

/**
 * The form's fields as sent (its «Variable name» keys, formid, formname, tranid, COOKIES), with
 * the cart as `in.payment`: from `payment[...]` keys (which are then left out) or from a
 * `payment` JSON string.
 */
export function readTildaFields(req: IncomingRequest): Fields {
  const fields = inFields(req, true)
  const warnings: string[] = []
  const bracketed = Object.keys(fields).filter((key) => key.startsWith('payment['))
  if (bracketed.length > 0) {
    const payment = Object.create(null) as Record<string, unknown>
    for (const key of bracketed) {
      const path = bracketPath(key.slice('payment'.length))
      // A cart as deep as a JSON body may be, no deeper: what is built from it is walked (masked, rendered) by recursion.
      if (path.length > MAX_JSON_DEPTH) return { fields, warnings, error: hookrelayError('HR_BODY_TOO_DEEP', [MAX_JSON_DEPTH]) }
      // Such a name could reach an object's prototype: the field is left out.
      if (path.some((segment) => FORBIDDEN.has(segment))) warnings.push(`field '${key}' left out: its name is not a cart field`)
      else setPath(payment, path, fields[key])
      delete fields[key]
    }
    fields['payment'] = toLists(payment)
  } else if (typeof fields['payment'] === 'string') {
    if (jsonDepthExceeds(fields['payment'], MAX_JSON_DEPTH)) return { fields, warnings, error: hookrelayError('HR_BODY_TOO_DEEP', [MAX_JSON_DEPTH]) }
    try {
      fields['payment'] = JSON.parse(fields['payment'])
    } catch {
      warnings.push("field 'payment' is not the JSON Tilda sends for a cart: kept as text")
    }
  }
  return { fields, warnings }
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * `[products][0][name]` -> ['products', '0', 'name']. A scan: /\[([^\]]*)\]/g backtracked at
 * every `[` of a long run without `]` (11 s at 80,000).
 */
function bracketPath(rest: string): string[] {
  const path: string[] = []
  for (let from = 0; ; ) {
    const open = rest.indexOf('[', from)
    const close = open === -1 ? -1 : rest.indexOf(']', open + 1)
    if (close === -1) return path // no later `[` can be closed either
    path.push(rest.slice(open + 1, close))
    from = close + 1
  }
}

/**
 * Sets `value` at `path` in maps without prototype; numbers are map keys too (so no index can
 * make a huge sparse list, nor reach `length`). Maps whose keys are exactly 0, 1, 2 ... become
 * lists afterwards (toLists).
 */
function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  path.forEach((segment, i) => {
    if (i === path.length - 1) {
      node[segment] = value
      return
    }
    let child = node[segment]
    if (typeof child !== 'object' || child === null) {
      child = Object.create(null)
      node[segment] = child
    }
    node = child as Record<string, unknown>
  })
}

/** Maps keyed 0..n-1 (products, options) as lists, at every depth. */
function toLists(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  const map = value as Record<string, unknown>
  for (const key of Object.keys(map)) map[key] = toLists(map[key])
  const keys = Object.keys(map)
  return keys.length > 0 && keys.every((key, i) => key === String(i)) ? keys.map((key) => map[key]) : map
}

/** Where the URL goes in Tilda, for `hookrelay urls`. */
export const TILDA_STEPS = [
  'Tilda: «Настройки сайта» → «Формы» → «Webhook»: paste the URL above into «Адрес» → «Добавить» (Tilda checks it with test=test: answered ok)',
  'each form: its block → «Контент» → «Приём данных»: tick this webhook; publish the page again',
]
