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

/**
 * Counts failed attempts per client address in fixed windows, bounded in memory. When TRACKED_CLIENTS
 * addresses are counted already, an address that is not among them is counted in one bucket
 * shared by all such addresses: the ones counted are never forgotten before their window ends, so
 * wrong tokens from many other addresses (IPv6 gives anyone millions) cannot clear a lock-out, and
 * the addresses past the bound are limited together.
 */
export class FailureLimiter {
  readonly #failures = new Map<string, { count: number; resetAt: number }>()
  readonly #tracked: number
  #sweptAt = 0

  constructor(tracked = TRACKED_CLIENTS) {
    this.#tracked = tracked
  }

  /** Seconds until `client` may try again, or 0. */
  blockedFor(client: string, now = Date.now()): number {
    const entry = this.#failures.get(this.#key(client, now))
    if (!entry || entry.resetAt <= now || entry.count < AUTH_FAILURES_ALLOWED) return 0
    return Math.ceil((entry.resetAt - now) / 1000)
  }

  fail(client: string, now = Date.now()): void {
    const key = this.#key(client, now)
    const entry = this.#failures.get(key)
    if (entry && entry.resetAt > now) entry.count++
    else this.#failures.set(key, { count: 1, resetAt: now + AUTH_WINDOW_MS })
  }

  /**
   * The bucket `client` counts in: its own, unless the map is full of others' windows still open.
   * Ended windows are swept out at most once a second, so a full map costs no walk per request.
   */
  #key(client: string, now: number): string {
    if (this.#failures.has(client) || this.#failures.size < this.#tracked) return client
    if (now - this.#sweptAt >= 1000) {
      this.#sweptAt = now
      for (const [key, e] of this.#failures) if (e.resetAt <= now) this.#failures.delete(key)
    }
    return this.#failures.size < this.#tracked ? client : OVERFLOW
  }
}

/** The shared bucket's key: no address looks like it. */
const OVERFLOW = '(addresses past the bound)'
