/** Webhook URLs as an operator pastes them: server.public_url (or host:port) + /hooks/<id>/<key>. */
import { sourceKey } from '../sources/source.js'
import type { LoadedConfig } from '../config/load.js'
import type { PipelineConfig } from '../config/schema.js'
import { isGetcourse, pasteSteps, placeholderQuery } from '../sources/getcourse.js'

export function baseUrl(loaded: Pick<LoadedConfig, 'settings'>): string {
  const { publicUrl, host, port } = loaded.settings
  if (publicUrl) return publicUrl
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  return `http://${shown}:${port}`
}

export function webhookUrl(loaded: Pick<LoadedConfig, 'settings'>, pipeline: PipelineConfig): string {
  const key = sourceKey(pipeline.source)
  return `${baseUrl(loaded)}/hooks/${pipeline.id}${key === undefined ? '' : `/${encodeURIComponent(key)}`}`
}

/** The URL to paste: for a GetCourse source with the query string of placeholders already in it. */
export function pasteUrl(loaded: Pick<LoadedConfig, 'settings'>, pipeline: PipelineConfig): string {
  const type = pipeline.source.type
  return webhookUrl(loaded, pipeline) + (isGetcourse(type) ? placeholderQuery(type) : '')
}

/** The lines `hookrelay urls` prints for a pipeline: the URL, then how to paste it where it goes. */
export function urlLines(loaded: Pick<LoadedConfig, 'settings'>, pipeline: PipelineConfig): string[] {
  const type = pipeline.source.type
  const lines = [`${pipeline.id}  ${pasteUrl(loaded, pipeline)}`]
  if (isGetcourse(type)) lines.push(...pasteSteps(type).map((step, i) => `    ${i + 1}. ${step}`))
  return lines
}
