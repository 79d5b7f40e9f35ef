/**
 * Building blocks for the config's JSON Schema (TypeBox: one definition gives both the ajv
 * schema and the TypeScript type). Every object is closed (`additionalProperties: false`);
 * `hint` says in words what a value may be, for error messages.
 */
import { Type, type Static, type TProperties, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { DURATION_HINT } from './duration.js'

/** A closed object: unknown keys are errors. */
export function Obj<T extends TProperties>(properties: T, description: string) {
  return Type.Object(properties, { additionalProperties: false, description })
}

/** One of fixed strings; ajv's `enum` keeps the error message short and lists them. */
export function Enum<const T extends readonly string[]>(values: T, description: string): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], description })
}

/** A string, number or boolean: YAML writes `limit: 10` as a number, and that is fine. */
export const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()], {
  hint: 'a string, number or boolean',
})

/** A map of names to templated scalars, as headers, query and form fields are written. */
export function ScalarMap(description: string) {
  return Type.Record(Type.String(), Scalar, { description })
}

export const Duration = Type.Union(
  [Type.String({ pattern: '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$', hint: DURATION_HINT }), Type.Number({ minimum: 0 })],
  { hint: DURATION_HINT, description: 'A duration: 500ms, 10s, 2m, 1h, 7d, or a number of seconds.' },
)

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

export type { Static, TSchema }
