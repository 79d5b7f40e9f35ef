/**
 * A request Node's HTTP parser refused (see http/client-errors.ts) whose request line names a
 * pipeline and its key: kept as a rejected run with that line and the reason, so the operator
 * sees what a sender tried to deliver. Its headers and body are not kept: the parser refused them.
 */
import { parse as parseQueryString } from 'fast-querystring'
import type { HookrelayError } from '../errors.js'
import type { KeepRefused } from '../http/client-errors.js'
import type { RequestLine } from '../http/request-line.js'
import type { Executor } from '../pipeline/executor.js'
import type { PipelineSet } from '../pipeline/pipeline-set.js'
import { MASK } from '../secrets/matcher.js'
import { hideHookKey, safeDecode } from '../secrets/urls.js'
import { ownFields, parseBody } from './body.js'
import type { IncomingRequest } from './incoming.js'

const HOOK_TARGET = /^\/hooks\/([^/?#]+)(?:\/([^/?#]+))?\/?(?:\?([^#]*))?/

export function refusedRequestKeeper(pipelines: PipelineSet, executor: Executor): KeepRefused {
  return (line: RequestLine, err: HookrelayError) => {
    const match = HOOK_TARGET.exec(line.target)
    if (!match) return undefined
    const [, id = '', key, query = ''] = match
    const pipeline = pipelines.get(safeDecode(id))
    const given = key === undefined ? undefined : safeDecode(key)
    if (!pipeline || !pipeline.source.keyMatches(given)) return undefined
    return executor.reject(pipeline, refusedRequest(line, pipeline.id, given !== undefined, query), err)
  }
}

function refusedRequest(line: RequestLine, id: string, hasKey: boolean, query: string): IncomingRequest {
  const rest = line.text.slice(line.method.length + 1 + line.target.length) // " HTTP/1.1"
  return {
    method: line.method,
    path: hasKey ? `/hooks/${id}/${MASK}` : `/hooks/${id}`,
    query: ownFields(parseQueryString(query) as Record<string, unknown>),
    headers: {},
    body: parseBody(Buffer.alloc(0), undefined),
    receivedAt: new Date(),
    line: `${line.method} ${hideHookKey(line.target)}${rest}`,
  }
}
