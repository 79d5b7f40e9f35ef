/**
 * The pipelines being served. A reload replaces them whole, at once; a request looks its
 * pipeline up when it arrives and keeps that one to its end, so runs in flight finish on the
 * config they started with.
 */
import type { CompiledPipeline } from './compile.js'

export class PipelineSet {
  #list: readonly CompiledPipeline[] = []
  #byId = new Map<string, CompiledPipeline>()

  constructor(pipelines: readonly CompiledPipeline[]) {
    this.replace(pipelines)
  }

  get(id: string): CompiledPipeline | undefined {
    return this.#byId.get(id)
  }

  get all(): readonly CompiledPipeline[] {
    return this.#list
  }

  replace(pipelines: readonly CompiledPipeline[]): void {
    this.#list = pipelines
    this.#byId = new Map(pipelines.map((p) => [p.id, p]))
  }
}
