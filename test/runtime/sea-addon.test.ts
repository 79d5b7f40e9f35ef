/**
 * Where the single binary puts its SQLite library before loading it. Exercised here with the
 * addon node_modules holds for this Node, loaded for real; the binary itself is tested in
 * test/deploy/binary.test.ts.
 */
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cacheFolders, placeAddon } from '../../src/runtime/sea-addon.js'

const ADDON = createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node')
const bytes = readFileSync(ADDON)
const sha256 = createHash('sha256').update(bytes).digest('hex')
const work = mkdtempSync(join(tmpdir(), 'hookrelay-addon-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const placedName = `better_sqlite3-${sha256.slice(0, 16)}.node`

describe('placeAddon', () => {
  it('writes the library once into a private folder and loads it from there', () => {
    const folder = join(work, 'fresh', 'hookrelay')
    const placed = placeAddon(bytes, 'better_sqlite3', sha256, [folder])
    expect(placed.file).toBe(join(folder, placedName))
    expect(typeof (placed.exports as { Database?: unknown }).Database).toBe('function')
    expect(statSync(folder).mode & 0o777).toBe(0o700)
    const written = statSync(placed.file).mtimeMs

    placeAddon(bytes, 'better_sqlite3', sha256, [folder])
    expect(statSync(placed.file).mtimeMs).toBe(written)
    expect(readdirSync(folder)).toEqual([placedName])
  })

  it('replaces a file of that name whose bytes are not the library, and passes over a folder open to others', () => {
    const folder = join(work, 'tampered')
    mkdirSync(folder, { mode: 0o700 })
    writeFileSync(join(folder, placedName), 'not the library')
    const placed = placeAddon(bytes, 'better_sqlite3', sha256, [folder])
    expect(readFileSync(placed.file).equals(bytes)).toBe(true)

    const open = join(work, 'open')
    mkdirSync(open)
    chmodSync(open, 0o755)
    expect(() => placeAddon(bytes, 'better_sqlite3', sha256, [open])).toThrow(`${open}: other users may use it (mode 755; it must be 700)`)
    expect(readdirSync(open)).toEqual([])
  })

  it('stops at a library this system cannot load, saying what the binary needs, without trying other folders', () => {
    const junk = Buffer.from('not a shared object, as a library built for another system is not')
    const first = join(work, 'junk-1')
    const second = join(work, 'junk-2')
    const hash = createHash('sha256').update(junk).digest('hex')
    expect(() => placeAddon(junk, 'better_sqlite3', hash, [first, second])).toThrow(/cannot load its SQLite library on this system: .*\n.*glibc 2\.34 or newer/)
    expect(readdirSync(first)).toHaveLength(1)
    expect(() => readdirSync(second)).toThrow(/ENOENT/)
  })

  it('skips a folder that is a link or cannot be made, and says what each folder lacked when none will do', () => {
    const target = join(work, 'elsewhere')
    mkdirSync(target)
    const link = join(work, 'link')
    symlinkSync(target, link)
    const file = join(work, 'a-file')
    writeFileSync(file, '')
    const good = join(work, 'good')
    expect(placeAddon(bytes, 'better_sqlite3', sha256, [link, join(file, 'sub'), good]).file).toBe(join(good, placedName))
    expect(readdirSync(target)).toEqual([])

    expect(() => placeAddon(bytes, 'better_sqlite3', sha256, [link, join(file, 'sub')])).toThrow(
      new RegExp(
        `could not load its SQLite library[^]*${link}: not a folder \\(a link or a file is not trusted\\)\\n  ${join(file, 'sub')}: ENOTDIR[^]*Point CACHE_DIRECTORY at a folder`,
      ),
    )
  })

  it('asks systemd’s CacheDirectory first, then the user’s cache, the temp folder, and the binary’s own folder', () => {
    const folders = cacheFolders({ CACHE_DIRECTORY: '/var/cache/hookrelay', HOME: '/home/school' })
    expect(folders.slice(0, 2)).toEqual(['/var/cache/hookrelay', '/home/school/.cache/hookrelay'])
    expect(folders[2]).toMatch(/hookrelay-\d+$/)
    expect(folders[3]).toMatch(/\.hookrelay-cache$/)
    expect(cacheFolders({ XDG_CACHE_HOME: '/srv/cache', HOME: '/home/school' })[0]).toBe('/srv/cache/hookrelay')
  })
})
