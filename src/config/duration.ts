/** Durations in the config: "500ms", "10s", "2m", "1h", "7d", or a bare number of seconds. */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

export const DURATION_HINT = 'a duration such as 500ms, 10s, 2m, 1h, 7d or a number of seconds'

/** Milliseconds for a duration, or undefined when `value` is not one. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined
  const m = DURATION.exec(value.trim())
  if (!m) return undefined
  return Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS])
}

/** The short form used in messages: 10000 -> "10s", 1500 -> "1500ms". */
export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}
