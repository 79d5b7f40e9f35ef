/** Webhook URLs as an operator pastes them: server.public_url (or host:port) + /hooks/<id>/<key>. */
import type { LoadedConfig } from '../config/load.js'
import type { PipelineConfig } from '../config/schema.js'

export function baseUrl(loaded: Pick<LoadedConfig, 'settings'>): string {
  const { publicUrl, host, port } = loaded.settings
  if (publicUrl) return publicUrl
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  return `http://${shown}:${port}`
}

export function webhookUrl(loaded: Pick<LoadedConfig, 'settings'>, pipeline: PipelineConfig): string {
  const key = pipeline.source.key
  return `${baseUrl(loaded)}/hooks/${pipeline.id}${key === undefined ? '' : `/${encodeURIComponent(key)}`}`
}
