/**
 * The journal token, for the API (a bearer header) and the page (a login form): compared as
 * hashes, and wrong tries limited per client address by one limiter the two share, so neither
 * is a way around the other's limit.
 */
import { hash, timingSafeEqual } from 'node:crypto'

/** Failed token attempts allowed per client address per window, before 429. */
export const AUTH_FAILURES_ALLOWED = 10
const AUTH_WINDOW_MS = 60_000
const TRACKED_CLIENTS = 10_000

/** Whether `given` is the journal token: compared as hashes, so not even its length shows. */
export function tokenMatches(given: string | undefined, token: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(token))
}

function digest(text: string): Buffer {
  return hash('sha256', text, 'buffer')
}

/** Counts failed attempts per client address in fixed windows; bounded in memory. */
export class FailureLimiter {
  readonly #failures = new Map<string, { count: number; resetAt: number }>()

  /** Seconds until `client` may try again, or 0. */
  blockedFor(client: string, now = Date.now()): number {
    const entry = this.#failures.get(client)
    if (!entry || entry.resetAt <= now || entry.count < AUTH_FAILURES_ALLOWED) return 0
    return Math.ceil((entry.resetAt - now) / 1000)
  }

  fail(client: string, now = Date.now()): void {
    const entry = this.#failures.get(client)
    if (entry && entry.resetAt > now) {
      entry.count++
      return
    }
    if (this.#failures.size >= TRACKED_CLIENTS) {
      for (const [key, e] of this.#failures) if (e.resetAt <= now) this.#failures.delete(key)
      if (this.#failures.size >= TRACKED_CLIENTS) this.#failures.clear()
    }
    this.#failures.set(client, { count: 1, resetAt: now + AUTH_WINDOW_MS })
  }
}
