/** Closes what a test started, newest first, after each test. */
import { afterEach } from 'vitest'

/** Returns `keep`, which awaits a started thing and closes it after the test. */
export function closeAfterEach(): <T extends { close(): Promise<void> }>(thing: Promise<T>) => Promise<T> {
  const open: Array<{ close(): Promise<void> }> = []
  afterEach(async () => {
    for (const thing of open.splice(0).reverse()) await thing.close()
  })
  return async (thing) => {
    const started = await thing
    open.push(started)
    return started
  }
}
