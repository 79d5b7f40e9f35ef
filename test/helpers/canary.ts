/**
 * Searching outputs for secrets the way an attacker would: not only the whole value, but every
 * 8-character window of it, so a secret cut short before masking is still found.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'

export const WINDOW = 8

/** Every `WINDOW`-character piece of `secret` (the whole of a shorter one). */
export function windows(secret: string): string[] {
  if (secret.length <= WINDOW) return [secret]
  return Array.from({ length: secret.length - WINDOW + 1 }, (_, i) => secret.slice(i, i + WINDOW))
}

/** The fragments of `secrets` found in each place, as "place: fragment (of secret)" lines. */
export function fragmentsIn(places: Record<string, string>, secrets: Record<string, string>): string[] {
  const found: string[] = []
  for (const [place, text] of Object.entries(places)) {
    for (const [name, secret] of Object.entries(secrets)) {
      const hit = windows(secret).find((w) => text.includes(w))
      if (hit !== undefined) found.push(`${place}: '${hit}' of ${name}`)
    }
  }
  return found
}

/** Fails with every fragment found, so one run shows all the leaks at once. */
export function expectNoFragments(places: Record<string, string>, secrets: Record<string, string>): void {
  expect(fragmentsIn(places, secrets)).toEqual([])
}

/** The journal's files (the database, its WAL and shared memory) as one text. */
export function journalFiles(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.startsWith('journal.db'))
  expect(files).toContain('journal.db')
  return files.map((f) => readFileSync(join(dir, f)).toString('latin1')).join('\n')
}
