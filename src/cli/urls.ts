/** Webhook URLs as an operator pastes them: server.public_url (or host:port) + /hooks/<id>/<key>. */
import type { LoadedConfig } from '../config/load.js'
import type { PipelineConfig, SourceType } from '../config/schema.js'
import { FACEBOOK_STEPS } from '../sources/facebook.js'
import { isGetcourse, pasteSteps, placeholderQuery } from '../sources/getcourse.js'
import { sourceKey } from '../sources/source.js'
import { TILDA_STEPS } from '../sources/tilda.js'
import { VK_STEPS } from '../sources/vk.js'

/** What to do with the URL in the sender's settings, for the presets that have settings to fill. */
const STEPS: Partial<Record<SourceType, readonly string[]>> = { tilda: TILDA_STEPS, vk: VK_STEPS, 'facebook.leads': FACEBOOK_STEPS }

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

/** Whether the pipeline's answer carries a step's result back to the caller (a certificate link for GetCourse to store). */
function writesBack(pipeline: PipelineConfig): boolean {
  const response = (pipeline.source as { response?: unknown }).response
  return JSON.stringify(response ?? null).includes('steps.')
}

/** The lines `hookrelay urls` prints for a pipeline: the URL, then how to paste it where it goes. */
export function urlLines(loaded: Pick<LoadedConfig, 'settings'>, pipeline: PipelineConfig): string[] {
  const { source } = pipeline
  if (source.type === 'vk_ads.leads') return [`${pipeline.id}  (no URL: asks VK Ads for new leads every ${String(source.interval ?? '1m')})`]
  const steps = isGetcourse(source.type) ? pasteSteps(source.type, writesBack(pipeline)) : (STEPS[source.type] ?? [])
  return [`${pipeline.id}  ${pasteUrl(loaded, pipeline)}`, ...steps.map((step, i) => `    ${i + 1}. ${step}`)]
}
