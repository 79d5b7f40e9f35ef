/** `json.parse`: reads named fields out of JSON (the seed's "JSON-парсер"). */
import { Type } from '@sinclair/typebox'
import { Enum } from '../config/schema-kit.js'
import { hookrelayError, type Fault } from '../errors.js'
import { formatPath, lookup, parsePath, type PathSegment } from '../pipeline/json-path.js'
import { describeJsonError } from '../sources/body.js'
import { actionSchema, defineAction } from './types.js'

const OnMissing = Enum(['abort', 'empty'], 'abort fails the run naming the path; empty stores "".')

const Field = Type.Union(
  [
    Type.String({ description: 'A path: ["raw"][1]["q"] or raw[1].q' }),
    Type.Object({ path: Type.String(), on_missing: Type.Optional(OnMissing) }, { additionalProperties: false }),
  ],
  { hint: 'a path such as \'["raw"][1]["q"]\', or { path, on_missing }' },
)

const schema = actionSchema(
  'json.parse',
  {
    from: Type.Optional(Type.String({ description: 'Template giving the JSON text (or a value); default: the request body.' })),
    fields: Type.Record(Type.String(), Field, { minProperties: 1, hint: 'at least one field (name: path)', description: 'Output name -> path.' }),
  },
  'Reads fields out of JSON into steps.<id>.<name>.',
)

interface CompiledField {
  name: string
  path: PathSegment[]
  onMissing: 'abort' | 'empty'
}

export const jsonParse = defineAction({
  type: 'json.parse',
  summary: 'Reads fields out of JSON by path (["raw"][1]["q"] or raw[1].q) into steps.<id>.<name>.',
  outputs: (params) => Object.keys(params.fields),
  schema,
  create(params, build) {
    const from = build.template(params.from ?? '{{ request.raw }}', ['from'])
    // Reading the caller's own request, what is missing or malformed there is the caller's to fix;
    // reading a step's answer, the service's.
    const fault = faultOf(params.from)
    const fields: CompiledField[] = []
    for (const [name, field] of Object.entries(params.fields)) {
      const source = typeof field === 'string' ? field : field.path
      try {
        fields.push({ name, path: parsePath(source), onMissing: typeof field === 'string' ? 'abort' : (field.on_missing ?? 'abort') })
      } catch (err) {
        build.problem(['fields', name], (err as Error).message)
      }
    }

    return {
      async run(ctx) {
        const input = from.evaluate(ctx.scope)
        const doc = typeof input === 'string' ? parseInput(input, fault) : input
        const output: Record<string, unknown> = {}
        for (const field of fields) {
          const hit = lookup(doc, field.path)
          if (hit.found) output[field.name] = hit.value
          else if (field.onMissing === 'empty') output[field.name] = ''
          else throw hookrelayError('HR_JSON_PATH_MISSING', [field.name, formatPath(field.path)], { fault })
        }
        ctx.record({ output })
        return output
      },
    }
  },
})

function faultOf(from: string | undefined): Fault | undefined {
  if (from === undefined || /^\s*\{\{-?\s*(request|in)\b/.test(from)) return 'caller'
  return /^\s*\{\{-?\s*steps\b/.test(from) ? 'upstream' : undefined
}

function parseInput(text: string, fault: Fault | undefined): unknown {
  if (text.trim() === '') throw hookrelayError('HR_JSON_INPUT', ['it is empty'], { fault })
  try {
    return JSON.parse(text)
  } catch (err) {
    throw hookrelayError('HR_JSON_INPUT', [describeJsonError(err)], { cause: err, fault })
  }
}
