/**
 * Turns validated pipeline configs into compiled pipelines: every template compiled, every
 * action created, every cross-check made. Problems are collected, not thrown one by one, so
 * the operator sees them all at once.
 */
import { actionSpec } from '../actions/index.js'
import type { Action, BuildContext, PathKey, TemplateTree } from '../actions/types.js'
import { formatPath, type Problem } from '../config/problems.js'
import type { Config, PipelineConfig } from '../config/schema.js'
import type { HttpClient } from '../http/client.js'
import type { Mailer } from '../notify/mailer.js'
import { compileSource, firstStepIds, knownInFields, type CompiledSource } from '../sources/source.js'
import { RUN_NAMES, toText, type KnownNames, type Scope, type Template, type TemplateEngine } from './template.js'

export interface CompiledAction {
  id: string
  type: string
  continueOnError: boolean
  action: Action
}

export interface CompiledPipeline {
  id: string
  name: string
  enabled: boolean
  /** Whether a failure sends the operator a letter. */
  notify: boolean
  source: CompiledSource
  actions: CompiledAction[]
}

export interface CompileDeps {
  engine: TemplateEngine
  http: HttpClient
  mailer: Mailer | undefined
}

/**
 * Compiles every pipeline. `known` are the schema problems already found: a source or action
 * with one is skipped (its values cannot be trusted), the rest is still checked, so that the
 * operator gets every problem in one go. The result is only usable when no problem was found.
 */
export function compilePipelines(config: Config, deps: CompileDeps, known: readonly Problem[] = []): { pipelines: CompiledPipeline[]; problems: Problem[] } {
  const problems: Problem[] = [...duplicateIds(config)]
  const malformed = (...prefix: PathKey[]) => known.some((k) => prefix.every((seg, i) => k.path[i] === seg))
  const pipelines = config.pipelines.map((p, i) => compilePipeline(p, ['pipelines', i], deps, problems, malformed))
  return { pipelines, problems }
}

function compilePipeline(
  p: PipelineConfig,
  at: PathKey[],
  deps: CompileDeps,
  problems: Problem[],
  malformed: (...prefix: PathKey[]) => boolean,
): CompiledPipeline {
  const actionConfigs = Array.isArray(p.actions) ? p.actions : []
  // A source's own first steps (Facebook's Graph read) run before the actions, which may read them.
  const first = isObject(p.source) ? firstStepIds(p.source.type) : []
  const ids = [...first, ...actionConfigs.map((a) => (isObject(a) && typeof a.id === 'string' ? a.id : ''))]
  const known: KnownNames = { in: isObject(p.source) ? knownInFields(p.source.type) : undefined, outputs: stepOutputs(actionConfigs) }
  // The answer is rendered after the actions, so it may read every step.
  const source = isObject(p.source) && !malformed(...at, 'source') ? compileSource(p.source, new Builder(deps, problems, [...at, 'source'], ids, RUN_NAMES, known)) : undefined
  const actions = actionConfigs.flatMap((a, j): CompiledAction[] => {
    if (!isObject(a) || malformed(...at, 'actions', j)) return []
    const build = new Builder(deps, problems, [...at, 'actions', j], ids.slice(0, first.length + j), RUN_NAMES, known)
    if (first.includes(a.id)) build.problem(['id'], `'${a.id}' is the ${p.source.type} source's own first step; choose another id`)
    let action: Action
    try {
      action = actionSpec(a.type)!.create(a, build)
    } catch (err) {
      build.problem([], `cannot be created: ${(err as Error).message}`)
      action = { run: () => Promise.reject(err) }
    }
    return [{ id: a.id, type: a.type, continueOnError: a.continue_on_error ?? false, action }]
  })
  return { id: p.id, name: p.name ?? p.id, enabled: p.enabled ?? true, notify: p.notify ?? true, source: source!, actions: [...(source?.firstSteps ?? []), ...actions] }
}

/** What each action says its steps give, by step id (an action whose config is malformed says nothing). */
function stepOutputs(actions: readonly unknown[]): Map<string, { type: string; names: readonly string[] }> {
  const outputs = new Map<string, { type: string; names: readonly string[] }>()
  for (const a of actions) {
    if (!isObject(a) || !('id' in a) || !('type' in a) || typeof a.id !== 'string' || typeof a.type !== 'string') continue
    const spec = actionSpec(a.type)
    try {
      // A step that may fail without ending the run leaves { error } instead.
      const onError = 'continue_on_error' in a && a.continue_on_error === true ? ['error'] : []
      if (spec) outputs.set(a.id, { type: a.type, names: [...spec.outputs(a as never), ...onError] })
    } catch {
      // its own problems are reported where it is compiled
    }
  }
  return outputs
}

function isObject<T>(value: T): value is T & object {
  return typeof value === 'object' && value !== null
}

/** Runs on possibly malformed pipelines too, so it checks the shapes it relies on. */
function duplicateIds(config: Config): Problem[] {
  const problems: Problem[] = []
  const firstPipeline = new Map<string, number>()
  config.pipelines.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof p.id !== 'string') return
    const first = firstPipeline.get(p.id)
    if (first === undefined) firstPipeline.set(p.id, i)
    else problems.push({ path: ['pipelines', i, 'id'], message: `duplicate pipeline id '${p.id}' (first at pipelines[${first}])` })
    const firstAction = new Map<string, number>()
    if (!Array.isArray(p.actions)) return
    p.actions.forEach((a, j) => {
      if (typeof a !== 'object' || a === null || typeof a.id !== 'string') return
      const seen = firstAction.get(a.id)
      if (seen === undefined) firstAction.set(a.id, j)
      else problems.push({ path: ['pipelines', i, 'actions', j, 'id'], message: `duplicate action id '${a.id}' (first at actions[${seen}])` })
    })
  })
  return problems
}

/** A template that renders nothing, standing in for one that did not compile. */
const BROKEN: Template = { source: '', constant: false, render: () => '', evaluate: () => '' }

class Builder implements BuildContext {
  constructor(
    readonly deps: CompileDeps,
    readonly problems: Problem[],
    readonly prefix: readonly PathKey[],
    readonly earlierSteps: readonly string[],
    readonly names: readonly string[],
    readonly known: KnownNames,
  ) {}

  get http(): HttpClient {
    return this.deps.http
  }

  get mailer(): Mailer | undefined {
    return this.deps.mailer
  }

  at(key: readonly PathKey[], names: readonly string[] = this.names): Builder {
    return new Builder(this.deps, this.problems, [...this.prefix, ...key], this.earlierSteps, names, this.known)
  }

  withoutSteps(key: readonly PathKey[]): Builder {
    return new Builder(this.deps, this.problems, [...this.prefix, ...key], [], this.names, this.known)
  }

  problem(key: readonly PathKey[], message: string, name?: string): void {
    this.problems.push({ path: [...this.prefix, ...key], message, key: name })
  }

  template(source: string, key: readonly PathKey[]): Template {
    const path = [...this.prefix, ...key]
    try {
      return this.deps.engine.compile(source, { where: formatPath(path), names: this.names, earlierSteps: this.earlierSteps, known: this.known })
    } catch (err) {
      this.problems.push({ path, message: (err as Error).message })
      return BROKEN
    }
  }

  tree(value: unknown, key: readonly PathKey[]): TemplateTree {
    const root = this.#node(value, key)
    return {
      evaluate: (scope) => evaluateNode(root, scope),
      renderStrings: (scope) => {
        const out: Record<string, string> = {}
        if (root.kind === 'object') for (const [k, child] of root.entries) out[k] = toText(evaluateNode(child, scope))
        return out
      },
    }
  }

  #node(value: unknown, key: readonly PathKey[]): TreeNode {
    if (typeof value === 'string') return { kind: 'template', template: this.template(value, key) }
    if (Array.isArray(value)) return { kind: 'array', items: value.map((v, i) => this.#node(v, [...key, i])) }
    if (typeof value === 'object' && value !== null) {
      return { kind: 'object', entries: Object.entries(value).map(([k, v]) => [k, this.#node(v, [...key, k])] as const) }
    }
    return { kind: 'value', value }
  }
}

type TreeNode =
  | { kind: 'template'; template: Template }
  | { kind: 'array'; items: TreeNode[] }
  | { kind: 'object'; entries: ReadonlyArray<readonly [string, TreeNode]> }
  | { kind: 'value'; value: unknown }

function evaluateNode(node: TreeNode, scope: Scope): unknown {
  switch (node.kind) {
    case 'template':
      return node.template.evaluate(scope)
    case 'array':
      return node.items.map((n) => evaluateNode(n, scope))
    case 'object':
      return Object.fromEntries(node.entries.map(([k, n]) => [k, evaluateNode(n, scope)]))
    case 'value':
      return node.value
  }
}
