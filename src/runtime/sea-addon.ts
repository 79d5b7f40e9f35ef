/**
 * The single binary carries better-sqlite3's addon (a shared object) as an asset. The system
 * loads a shared object only from a file, so the binary writes it once to a private cache folder
 * and loads it from there with process.dlopen; better-sqlite3 then takes the loaded addon as its
 * `nativeBinding`. The file is named by its content's hash, so binaries of different versions
 * share a folder without clashing, and an existing file is used only if its bytes are the
 * asset's. A folder on a disk mounted noexec refuses the load; the next folder is tried.
 */
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { getRawAsset } from 'node:sea'

/** The asset's key in the binary (scripts/build-binary.mjs puts it there). */
export const ADDON_ASSET = 'better_sqlite3.node'

let placed: PlacedAddon | undefined

/** The binary's addon, placed and loaded on first use; `sha256` is the asset's, from the build. */
export function seaAddon(sha256: string): PlacedAddon {
  placed ??= placeAddon(new Uint8Array(getRawAsset(ADDON_ASSET) as ArrayBuffer), 'better_sqlite3', sha256, cacheFolders())
  return placed
}

export interface PlacedAddon {
  /** The file the addon was loaded from (the writer thread loads the same one). */
  file: string
  exports: object
}

/** Where the addon may go, in order: systemd's CacheDirectory=, the user's cache, the temp folder, beside the binary. */
export function cacheFolders(env: NodeJS.ProcessEnv = process.env): string[] {
  const folders: string[] = []
  const systemd = env['CACHE_DIRECTORY']?.split(':')[0]
  if (systemd) folders.push(systemd)
  const home = env['HOME']
  if (env['XDG_CACHE_HOME']) folders.push(join(env['XDG_CACHE_HOME'], 'hookrelay'))
  else if (home) folders.push(join(home, '.cache', 'hookrelay'))
  folders.push(join(tmpdir(), `hookrelay-${process.getuid?.() ?? 'user'}`))
  // The binary's own folder is on a disk that lets programs run, by definition.
  folders.push(join(dirname(process.execPath), '.hookrelay-cache'))
  return folders
}

/** Loads a shared object file the way require() loads a .node file. */
export function dlopen(file: string): object {
  const module = { exports: {} }
  process.dlopen(module, file)
  return module.exports
}

/** A problem the admin must fix: its message says what and how, and is shown without a stack. */
export class AddonError extends Error {}

/** What the loader says when a disk does not let programs run from it (noexec): another folder may do. */
const NOT_EXECUTABLE = /failed to map segment|operation not permitted|permission denied/i

/**
 * Writes `bytes` (unless already there) as `<name>-<sha256>.node` into the first of `folders`
 * that is private to this user and lets it load, and loads it with `load`. A folder that cannot
 * be used, or whose disk refuses to run programs, gives way to the next; a library the system
 * cannot load at all (too old a C library) stops here, saying so.
 */
export function placeAddon(bytes: Uint8Array, name: string, sha256: string, folders: string[], load: (file: string) => object = dlopen): PlacedAddon {
  const refused: string[] = []
  for (const folder of folders) {
    let file
    try {
      file = place(bytes, join(folder, `${name}-${sha256.slice(0, 16)}.node`))
    } catch (err) {
      refused.push(`${folder}: ${(err as Error).message}`)
      continue
    }
    try {
      return { file, exports: load(file) }
    } catch (err) {
      const reason = (err as Error).message
      if (!NOT_EXECUTABLE.test(reason)) {
        throw new AddonError(
          `hookrelay cannot load its SQLite library on this system: ${reason}\n` +
            'The binary needs Linux x64 with glibc 2.34 or newer and libstdc++ from GCC 11 or newer ' +
            '(Debian 12, Ubuntu 22.04, RHEL 9 or newer). On an older system, run hookrelay from npm or in Docker (docs/deploy.md).',
        )
      }
      refused.push(`${folder}: the disk does not let programs run from it (${reason})`)
    }
  }
  throw new AddonError(
    'hookrelay could not load its SQLite library. It writes the library to a private folder and loads it from there, ' +
      `and no folder it tried would do:\n  ${refused.join('\n  ')}\n` +
      'Point CACHE_DIRECTORY at a folder of this user, mode 0700, on a disk not mounted noexec, and start again.',
  )
}

/** Puts `bytes` at `file` in a private folder, unless the file there already holds them. */
function place(bytes: Uint8Array, file: string): string {
  privateFolder(dirname(file))
  if (!holds(file, bytes)) {
    const temp = `${file}.${process.pid}.tmp`
    rmSync(temp, { force: true })
    writeFileSync(temp, bytes, { mode: 0o700, flag: 'wx' })
    renameSync(temp, file)
  }
  return file
}

/** Makes `folder` (0700, this user's), or checks one that exists: a folder, this user's, closed to others. */
function privateFolder(folder: string): void {
  mkdirSync(folder, { recursive: true, mode: 0o700 })
  const stat = lstatSync(folder)
  if (!stat.isDirectory()) throw new Error('not a folder (a link or a file is not trusted)')
  const uid = process.getuid?.()
  if (uid !== undefined && stat.uid !== uid) throw new Error(`belongs to another user (uid ${stat.uid})`)
  if ((stat.mode & 0o077) !== 0) throw new Error(`other users may use it (mode ${(stat.mode & 0o777).toString(8)}; it must be 700)`)
}

/** True when `file` is a regular file of ours holding exactly `bytes`. */
function holds(file: string, bytes: Uint8Array): boolean {
  let stat
  try {
    stat = lstatSync(file)
  } catch {
    return false
  }
  const uid = process.getuid?.()
  if (!stat.isFile() || (uid !== undefined && stat.uid !== uid) || stat.size !== bytes.byteLength) return false
  return readFileSync(file).equals(bytes)
}
