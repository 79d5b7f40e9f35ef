/** See secret-names.mjs. */
export const SECRET_NAME_PARTS: readonly string[]
export const NOT_SECRET_NAMES: readonly string[]
export function isSecretName(name: string): boolean
export function mayNameSecret(text: string): boolean
