/**
 * `hookrelay health`: asks the server this config describes for /healthz, at the host and port
 * the config (with its ${HOST}/${PORT} values) makes it listen on; exit 0 when it answers 200.
 * The Docker image's health check, and a quick look for an admin.
 */
import { load, maskedIo, type Io } from './commands.js'

const TIMEOUT_MS = 4000

export async function health(path: string, plain: Io): Promise<number> {
  const loaded = load(path, plain)
  if (!loaded) return 1
  const io = maskedIo(plain, loaded.masker)
  const { host, port } = loaded.settings
  if (port === 0) {
    io.err('hookrelay health: the config listens on port 0 (any free port), so there is no known address to ask')
    return 1
  }
  const url = `http://${reachable(host)}:${port}/healthz`
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    const body = await res.text()
    if (res.ok) {
      io.out(`ok: ${url} answered ${res.status} ${body}`)
      return 0
    }
    io.err(`hookrelay health: ${url} answered ${res.status} ${body.slice(0, 500)}`)
    return 1
  } catch (err) {
    const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : describe(err)
    io.err(`hookrelay health: nothing answers at ${url} (${reason}); is \`hookrelay serve\` running with this config?`)
    return 1
  }
}

/** An address to connect to for a listening address: "all interfaces" is reached on loopback. */
function reachable(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (err as Error).message
}
