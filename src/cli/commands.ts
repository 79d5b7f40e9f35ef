/**
 * `hookrelay check` and `hookrelay urls`: read the config, print, return an exit code. What they
 * print passes the config's masker (a config error's lines are masked when made), except the
 * URLs `urls` prints: handing the operator the secret URL to paste is that command's job.
 */
import { Agent } from 'undici'
import { loadConfig, type LoadedConfig } from '../config/load.js'
import { ConfigError } from '../config/problems.js'
import { formatDuration } from '../config/duration.js'
import { HttpClient } from '../http/client.js'
import type { Masker } from '../secrets/masker.js'
import { urlLines, webhookUrl } from './urls.js'

export interface Io {
  out: (line: string) => void
  err: (line: string) => void
  env: NodeJS.ProcessEnv
}

/** Loads for printing only: no connection is ever made through this client. */
export function load(path: string, io: Io): LoadedConfig | undefined {
  try {
    return loadConfig({ path, env: io.env, http: new HttpClient({ dispatcher: new Agent() }) })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    io.err(`${path}: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}`)
    for (const line of err.problems) io.err(line)
    return undefined
  }
}

/** The same Io with every line masked: what a command prints is an output like any other. */
export function maskedIo(io: Io, masker: Masker): Io {
  return { ...io, out: (line) => io.out(masker.text(line)), err: (line) => io.err(masker.text(line)) }
}

export function check(path: string, plain: Io): number {
  const loaded = load(path, plain)
  if (!loaded) return 1
  const io = maskedIo(plain, loaded.masker)
  const count = loaded.config.pipelines.length
  io.out(`${loaded.file}: ok, ${count} pipeline${count === 1 ? '' : 's'}`)
  loaded.config.pipelines.forEach((p, i) => {
    const compiled = loaded.pipelines[i]!
    const methods = compiled.source.methods ? [...compiled.source.methods].join(',') : 'any method'
    const state = compiled.enabled ? '' : ' (stopped)'
    const poller = compiled.source.poller
    const where = poller ? `no URL, asks every ${formatDuration(poller.intervalMs)}` : `${methods}  ${webhookUrl(loaded, p)}`
    io.out(`  ${p.id}${state}  ${p.source.type}  ${where}`)
    const actions = p.actions.map((a) => `${a.id} (${a.type})`).join(' -> ')
    io.out(`    actions: ${actions || 'none (journal and answer only)'}`)
  })
  for (const warning of loaded.warnings) io.err(warning)
  return 0
}

export function urls(path: string, io: Io): number {
  const loaded = load(path, io)
  if (!loaded) return 1
  for (const p of loaded.config.pipelines) for (const line of urlLines(loaded, p)) io.out(line)
  if (!loaded.settings.publicUrl) io.err('note: set server.public_url to print the address the world reaches this server at')
  return 0
}
