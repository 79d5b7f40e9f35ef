/** The one explicit list of built-in actions: no autoloading, no side-effect imports. */
import { bizon365Subscribe } from './bizon365-subscribe.js'
import { dimakerCreate } from './dimaker-create.js'
import { emailSend } from './email-send.js'
import { getcourseUpdateUser } from './getcourse-update-user.js'
import { httpRequest } from './http-request.js'
import { jsonParse } from './json-parse.js'
import type { ActionSpec } from './types.js'

export const ACTIONS = [jsonParse, httpRequest, bizon365Subscribe, dimakerCreate, getcourseUpdateUser, emailSend] as const

export const ACTION_TYPES = ACTIONS.map((a) => a.type)

export function actionSpec(type: string): ActionSpec | undefined {
  return (ACTIONS as readonly ActionSpec[]).find((a) => a.type === type)
}
