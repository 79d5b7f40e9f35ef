/** Comparing a secret someone sent with the one we know. */
import { timingSafeEqual } from 'node:crypto'

/**
 * True when `given` is `expected`, compared in constant time over the content. timingSafeEqual
 * throws on a length mismatch, so a value of another length is compared with the expected one
 * itself (the same work) and refused: only "the length differs" can show in the timing, never
 * how much of the secret was right. (Hashing both sides would hide the length too, at several
 * microseconds per request.)
 */
export function sameSecret(given: string | Buffer | undefined, expected: string | Buffer): boolean {
  if (given === undefined) return false
  const want = typeof expected === 'string' ? Buffer.from(expected) : expected
  const got = typeof given === 'string' ? Buffer.from(given) : given
  if (got.length !== want.length) return !timingSafeEqual(want, want)
  return timingSafeEqual(got, want)
}
