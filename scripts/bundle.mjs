// Bundles src/main.ts into one file with esbuild, for the two ways hookrelay ships:
//   kind 'module': dist/hookrelay.mjs, an ES module run by node beside node_modules (npm start,
//                  the Docker image); better-sqlite3 and pino-pretty stay in node_modules.
//   kind 'binary': the script of the single executable, CommonJS (what Node's single executable
//                  applications run) with every dependency inside and the journal's writer thread
//                  compiled in as text.
// Both get the config validator precompiled (ajv standalone: starting does not spend a fifth of its
// time compiling it), and src/runtime/assets.ts replaced by a module holding the values a build
// fixes in place: the version, the migrations, how the writer thread starts, the SQLite addon.
// Uses esbuild and ajv only, both runtime dependencies, so that `npm ci --omit=dev` can build.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Ajv } from 'ajv'
import standaloneCode from 'ajv/dist/standalone/index.js'
import { build } from 'esbuild'

/**
 * Writes the bundle to `outfile`. For kind 'binary', `addonSha256` is the SHA-256 of the
 * better-sqlite3 addon the executable will carry.
 */
export async function bundle({ root, outfile, kind, addonSha256 }) {
  // Inside the project, so that the generated code's imports of ajv resolve.
  mkdirSync(join(root, 'node_modules/.cache'), { recursive: true })
  const temp = mkdtempSync(join(root, 'node_modules/.cache/hookrelay-build-'))
  try {
    const buildTime = await loadBuildTime(root, temp)
    const validator = join(temp, 'validator.mjs')
    writeFileSync(validator, precompiledValidator(buildTime))
    const assets = join(temp, 'assets.mjs')
    writeFileSync(assets, await assetsModule(root, kind, buildTime, addonSha256))
    const replaced = new Map([
      [join(root, 'src/config/validator.ts'), validator],
      [join(root, 'src/runtime/assets.ts'), assets],
    ])
    await build({
      ...common(kind),
      entryPoints: [join(root, 'src/main.ts')],
      outfile,
      sourcemap: kind === 'module',
      // Native, or loaded only on a terminal: taken from node_modules at run time.
      external: kind === 'module' ? ['better-sqlite3', 'pino-pretty'] : [],
      banner: {
        js:
          kind === 'module'
            ? // Bundled CommonJS code calls require(); give the ES module one.
              "import { createRequire as hookrelayRequire } from 'node:module'; const require = hookrelayRequire(import.meta.url);"
            : // The one import.meta left in the sources (createRequire of a Node internal) gets the executable's own URL.
              "var hookrelayUrl = require('node:url').pathToFileURL(__filename).href;",
      },
      define: kind === 'binary' ? { 'import.meta.url': 'hookrelayUrl' } : {},
      plugins: [
        {
          name: 'replaced-modules',
          setup(b) {
            b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
              const path = replaced.get(resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts'))
              return path ? { path } : undefined
            })
          },
        },
      ],
    })
  } finally {
    rmSync(temp, { recursive: true, force: true })
  }
}

/**
 * The journal's writer thread for kind 'module': src/journal/sql-worker.mjs and what it imports
 * (the search text, the secret-name rule) as one file beside the bundle; better-sqlite3 stays in
 * node_modules.
 */
export async function bundleWorker({ root, outfile }) {
  await build({ ...common('module'), entryPoints: [join(root, 'src/journal/sql-worker.mjs')], outfile, external: ['better-sqlite3'] })
}

function common(kind) {
  return {
    bundle: true,
    platform: 'node',
    format: kind === 'module' ? 'esm' : 'cjs',
    target: kind === 'module' ? 'node20' : 'node24',
    // The binary is distributed: it keeps its dependencies' license notices.
    legalComments: kind === 'module' ? 'none' : 'eof',
    logLevel: 'warning',
  }
}

/** The sources' own validator options and schema, and the migrations, read by bundling them now. */
async function loadBuildTime(root, temp) {
  const outfile = join(temp, 'build-time.mjs')
  const from = (path) => JSON.stringify(join(root, path))
  await build({
    stdin: {
      contents: `export { AJV_OPTIONS, validateConfig } from ${from('src/config/validator.ts')}
export { readMigrations } from ${from('src/journal/migrations.ts')}`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'warning',
  })
  const module = await import(pathToFileURL(outfile).href)
  return {
    ...module,
    version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    migrations: module.readMigrations(join(root, 'migrations')),
  }
}

/** The validator src/config/validator.ts compiles at start, generated now with the same options. */
function precompiledValidator({ AJV_OPTIONS, validateConfig }) {
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } })
  return `${standaloneCode.default(ajv, ajv.compile(validateConfig.schema))}\nexport { validate as validateConfig }\n`
}

/** The stand-in for src/runtime/assets.ts: the same exports, the values compiled in. */
async function assetsModule(root, kind, { version, migrations }, addonSha256) {
  const fixed = `export const VERSION = ${JSON.stringify(version)}
const MIGRATIONS = ${JSON.stringify(migrations)}
export function migrations() {
  return MIGRATIONS
}
`
  if (kind === 'module') {
    return `${fixed}
export function sqlWorker() {
  return { script: new URL('./sql-worker.mjs', import.meta.url), eval: false }
}
export function nativeBinding() {
  return undefined
}
`
  }
  if (!/^[0-9a-f]{64}$/.test(addonSha256 ?? '')) throw new Error('bundle: kind binary needs the addon\'s sha256')
  const worker = await build({ ...common(kind), entryPoints: [join(root, 'src/journal/sql-worker.mjs')], write: false, legalComments: 'none' })
  return `import { seaAddon } from ${JSON.stringify(join(root, 'src/runtime/sea-addon.ts'))}
${fixed}
const WORKER = ${JSON.stringify(worker.outputFiles[0].text)}
export function sqlWorker() {
  return { script: WORKER, eval: true, addon: seaAddon(${JSON.stringify(addonSha256)}).file }
}
export function nativeBinding() {
  return seaAddon(${JSON.stringify(addonSha256)}).exports
}
`
}
