#!/usr/bin/env node
// npm run build: bundles src/main.ts into dist/hookrelay.mjs (esbuild) beside the journal's
// writer thread. One file starts far faster than hundreds of modules resolved one by one, and
// the config validator is precompiled (ajv standalone) instead of compiled at every start; cold
// start is measured by `npm run bench`. Type checking is tsc's job, in `npm test`.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import standaloneCode from 'ajv/dist/standalone/index.js'
import { build } from 'esbuild'
import { tsImport } from 'tsx/esm/api'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = process.argv[2] ?? join(root, 'dist')
mkdirSync(out, { recursive: true })

// The validator src/config/validator.ts compiles at start, generated now with the same options.
const { AJV_OPTIONS, validateConfig } = await tsImport(join(root, 'src/config/validator.ts'), import.meta.url)
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } })
const code = standaloneCode.default(ajv, ajv.compile(validateConfig.schema))
// Inside the project, so that the generated code's imports of ajv resolve.
mkdirSync(join(root, 'node_modules/.cache'), { recursive: true })
const temp = mkdtempSync(join(root, 'node_modules/.cache/hookrelay-build-'))
const precompiled = join(temp, 'validator.mjs')
writeFileSync(precompiled, `${code}\nexport { validate as validateConfig }\n`)

try {
  await build({
    entryPoints: [join(root, 'src/main.ts')],
    outfile: join(out, 'hookrelay.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    // Native, or loaded only on a terminal: taken from node_modules at run time.
    external: ['better-sqlite3', 'pino-pretty'],
    // Bundled CommonJS code calls require(); give the ES module one.
    banner: { js: "import { createRequire as hookrelayRequire } from 'node:module'; const require = hookrelayRequire(import.meta.url);" },
    plugins: [
      {
        name: 'precompiled-validator',
        setup(b) {
          b.onResolve({ filter: /^\.\/validator\.js$/ }, (args) => (args.importer.endsWith(join('config', 'load.ts')) ? { path: precompiled } : undefined))
        },
      },
    ],
  })
} finally {
  rmSync(temp, { recursive: true, force: true })
}
copyFileSync(join(root, 'src/journal/sql-worker.mjs'), join(out, 'sql-worker.mjs'))
