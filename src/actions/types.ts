/**
 * The action contract. An action type is one file exporting an ActionSpec: its YAML `type`,
 * a one-line summary, its schema, and `create`, which runs once at load (compiling templates
 * and checking values) and returns the Action that runs per request.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox'
import type { HttpClient } from '../http/client.js'
import type { Masker } from '../secrets/masker.js'
import type { Mailer } from '../notify/mailer.js'
import type { Scope, Template } from '../pipeline/template.js'

export type PathKey = string | number

/** What `create` gets: template compilation and problem reporting relative to the action. */
export interface BuildContext {
  /** Ids of the actions before this one: the only `steps.<id>` a template may read. */
  readonly earlierSteps: readonly string[]
  readonly http: HttpClient
  /** The SMTP sender from notify.email, when the config has one. */
  readonly mailer: Mailer | undefined
  /** Compiles a template; a problem is reported at `key` and a placeholder returned. */
  template(source: string, key: readonly PathKey[]): Template
  /** Compiles every string inside a value (a JSON body, a map of fields) as a template. */
  tree(value: unknown, key: readonly PathKey[]): TemplateTree
  /**
   * Reports a problem at `key` (relative to the action); loading goes on to find more.
   * `name`: the problem is with that key's name itself, so it is placed at the name.
   */
  problem(key: readonly PathKey[], message: string, name?: string): void
  /** The same context one level down (`key`), optionally with other allowed template names. */
  at(key: readonly PathKey[], names?: readonly string[]): BuildContext
  /** One level down, where templates may read no step (rendered before any action). */
  withoutSteps(key: readonly PathKey[]): BuildContext
}

/** A compiled nested value: strings are templates, everything else stays as written. */
export interface TemplateTree {
  /** Strings that are exactly one `{{ expr }}` keep their type, as in a JSON body. */
  evaluate(scope: Scope): unknown
  /** Every leaf as text, for headers, query and form fields. */
  renderStrings(scope: Scope): Record<string, string>
}

/** What a running action may use. */
export interface StepContext {
  readonly scope: Scope
  readonly signal: AbortSignal
  /** This run's masker: an action teaches it the secrets it renders (a token, a key). */
  readonly mask: Masker
  /** Keeps what the step sent, got or produced, for the journal; the runner masks it. */
  record(part: { request?: StepPart; response?: StepPart; output?: unknown }): void
}

/** A step's request or answer as an action hands it over: whole, unmasked (the runner masks it, then cuts the body). */
export interface StepPart {
  url?: string
  headers?: Record<string, string>
  body?: string
  /** The body as the journal keeps it, made from masked values (see OutgoingRequest.encodedBody); `body` is then not kept. */
  encodeBody?: (mask: Masker) => string
  [field: string]: unknown
}

/** What a step leaves at `steps.<id>` for later templates. */
export type StepOutput = Record<string, unknown>

export interface Action {
  run(ctx: StepContext): Promise<StepOutput>
}

export interface ActionSpec<S extends TObject = TObject> {
  type: string
  summary: string
  schema: S
  /** The names a step of this action gives at steps.<id> (checked in templates at load). */
  outputs(params: Static<S>): readonly string[]
  create(params: Static<S>, build: BuildContext): Action
}

/** The keys every action has, listed after its own in messages ("allowed: method, url, ..."). */
export function actionSchema<const K extends string, T extends TProperties>(type: K, properties: T, description: string) {
  return Type.Object(
    {
      ...properties,
      id: Type.String({ pattern: '^[A-Za-z0-9_-]+$', hint: 'letters, digits, _ and -', description: 'Unique in the pipeline; names the step as steps.<id>.' }),
      type: Type.Literal(type, { description: 'The action type.' }),
      continue_on_error: Type.Optional(Type.Boolean({ description: 'When true, a failure of this action does not end the run.' })),
    },
    { additionalProperties: false, description },
  )
}

/** Declares a spec with its params typed from its schema. */
export function defineAction<S extends TObject>(spec: ActionSpec<S>): ActionSpec<S> {
  return spec
}
