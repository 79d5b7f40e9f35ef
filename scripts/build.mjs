#!/usr/bin/env node
// npm run build: bundles src/main.ts into dist/hookrelay.mjs (esbuild) beside the journal's
// writer thread. One file starts far faster than hundreds of modules resolved one by one (cold
// start is measured by `npm run bench`). Type checking is tsc's job, in `npm test`.
import { copyFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = process.argv[2] ?? join(root, 'dist')
mkdirSync(out, { recursive: true })
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
})
copyFileSync(join(root, 'src/journal/sql-worker.mjs'), join(out, 'sql-worker.mjs'))
