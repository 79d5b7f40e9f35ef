/**
 * The GetCourse source presets: which placeholders the paste-ready URL carries, the stable
 * names they arrive under in `in.*`, and the guard for placeholders GetCourse left unfilled.
 */
import type { SourceType } from '../config/schema.js'
import { inFields } from './incoming.js'
import type { Preset } from './preset.js'

/** [name in `in.*`, GetCourse placeholder]: the query string `hookrelay urls` prints. */
export const GETCOURSE_FIELDS: Record<'getcourse.user' | 'getcourse.order', ReadonlyArray<readonly [string, string]>> = {
  'getcourse.user': [
    ['id', '{object.id}'],
    ['email', '{object.email}'],
    ['phone', '{object.phone}'],
    ['first_name', '{object.first_name}'],
    ['last_name', '{object.last_name}'],
    ['name', '{object.name}'],
    ['city', '{object.city}'],
    ['utm_source', '{object.create_session.utm_source}'],
    ['utm_medium', '{object.create_session.utm_medium}'],
    ['utm_campaign', '{object.create_session.utm_campaign}'],
    ['utm_content', '{object.create_session.utm_content}'],
    ['utm_term', '{object.create_session.utm_term}'],
  ],
  'getcourse.order': [
    ['id', '{object.id}'],
    ['number', '{object.number}'],
    ['status', '{object.status}'],
    ['positions', '{object.positions}'],
    ['cost_money_value', '{object.cost_money_value}'],
    ['cost_money', '{object.cost_money}'],
    ['left_cost_money', '{object.left_cost_money}'],
    ['payed_money', '{object.payed_money}'],
    ['payment_link', '{object.payment_link}'],
    ['promocode', '{object.promocode}'],
    ['manager', '{object.manager}'],
    ['created_at', "{object.created_at format='Y-m-d H:i:s'}"],
    ['utm_source', '{object.deal_utm_source}'],
    ['utm_medium', '{object.deal_utm_medium}'],
    ['utm_campaign', '{object.deal_utm_campaign}'],
    ['utm_content', '{object.deal_utm_content}'],
    ['utm_term', '{object.deal_utm_term}'],
    ['user_id', '{object.user.id}'],
    ['email', '{object.user.email}'],
    ['phone', '{object.user.phone}'],
    ['first_name', '{object.user.first_name}'],
    ['last_name', '{object.user.last_name}'],
    ['name', '{object.user.name}'],
    ['city', '{object.user.city}'],
  ],
}

/** The GetCourse object type («Тип объекта») a process for each preset is created with. */
export const GETCOURSE_OBJECT_TYPE = { 'getcourse.user': 'Пользователи', 'getcourse.order': 'Заказы' } as const

export function isGetcourse(type: SourceType): type is 'getcourse.user' | 'getcourse.order' {
  return type === 'getcourse.user' || type === 'getcourse.order'
}

/** `?id={object.id}&email={object.email}...`: placeholders stay raw for GetCourse to fill in. */
export function placeholderQuery(type: 'getcourse.user' | 'getcourse.order'): string {
  return `?${GETCOURSE_FIELDS[type].map(([name, placeholder]) => `${name}=${placeholder}`).join('&')}`
}

/**
 * What to do in GetCourse with the printed URL, step by step (the seeds' instructions). A
 * pipeline whose answer carries a result back (a certificate link) is the write-back flow: the
 * answer goes into a user field, and the process runs for the users a rule picks (those who
 * finished a course), not for every new object.
 */
export function pasteSteps(type: 'getcourse.user' | 'getcourse.order', writesBack: boolean): string[] {
  const create = `GetCourse: «Задачи» → «Процессы» → «Создать процесс», «Тип объекта»: «${GETCOURSE_OBJECT_TYPE[type]}», «Шаблон» → «Создать»`
  if (writesBack) {
    return [
      create,
      '«Процесс» → «Добавить блок» → «Операция» → «Вызвать URL»; paste the URL above, method POST; below it «Записать результат в доп. поле» → your field (e.g. «Сертификат») → «Сохранить»',
      '«Основные» → «Массовое создание задач»: «Периодическая проверка», «Правило вхождения объекта» e.g. «Участник тренинга» … «Завершил»; try it first with «Тестировать» and «Выполнять действия по-настоящему»',
    ]
  }
  return [
    create,
    '«Процесс» → «Добавить блок» → «Операция» → «Вызвать URL»; paste the URL above, method GET (POST works too) → «Сохранить»',
    'connect «Начало работы» to the operation; «Общее» → «При создании объекта» → «Запустить»',
  ]
}

const UNFILLED = /^\{object\.[^{}]*\}$/

/**
 * Drops values GetCourse did not substitute (they still read `{object.city}`), so that they
 * count as missing, and returns a warning for each. A phone whose `+` arrived unencoded, as a
 * space, gets its `+` back.
 */
export function guardGetcourseFields(fields: Record<string, unknown>): string[] {
  const warnings: string[] = []
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string' && UNFILLED.test(value.trim())) {
      delete fields[name]
      warnings.push(`field '${name}' arrived as '${value.trim()}': GetCourse did not fill the placeholder in, so it counts as missing`)
    }
  }
  const phone = fields['phone']
  if (typeof phone === 'string' && /^ \d/.test(phone)) fields['phone'] = `+${phone.slice(1)}`
  return warnings
}

/** The GetCourse presets: GET and POST, and the guard above on `in.*`. */
export function getcoursePreset(): Preset {
  return {
    methods: ['GET', 'POST'],
    readFields(req) {
      const fields = inFields(req, true) // the guard edits it
      return { fields, warnings: guardGetcourseFields(fields) }
    },
  }
}
