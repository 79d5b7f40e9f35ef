/**
 * Which names mark a secret (the rule is in secret-names.mjs, plain JavaScript, so that the
 * journal's writer thread applies it too), and how a source's own data can name its fields.
 */
export { isSecretName, mayNameSecret, NOT_SECRET_NAMES, SECRET_NAME_PARTS } from './secret-names.mjs'
import { isSecretName } from './secret-names.mjs'

/** `X-Api-Key` -> `xapikey`: the form names are compared in. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]/g, '')
}

/**
 * How a source's own data names its fields, where that differs from a plain object: VK sends
 * each answer of a lead form as `{ key: 'first_name', answer: 'Иван' }`. In such a pair the name
 * field (`key`) is the sender's data, never a secret by its own name, and the value field is a
 * secret when the name it holds is a secret name (`{ key: 'password', answer: ... }`).
 */
export interface SecretShape {
  readonly pairs: ReadonlyArray<{ readonly name: string; readonly value: string }>
}

/** Whether field `key` of `fields` holds a secret: by its name, or in a pair of `shape`, by the name the pair holds. */
export function holdsSecret(fields: Record<string, unknown>, key: string, shape: SecretShape | undefined): boolean {
  if (shape) {
    for (const { name, value } of shape.pairs) {
      if (key === value && typeof fields[name] === 'string' && Object.hasOwn(fields, name)) return isSecretName(fields[name])
      if (key === name && typeof fields[name] === 'string' && Object.hasOwn(fields, value)) return false
    }
  }
  return isSecretName(key)
}
