#!/usr/bin/env node
// npm run build (and npm install, which runs it): bundles src/main.ts into dist/hookrelay.mjs
// beside the journal's writer thread (scripts/bundle.mjs). One file starts far faster than
// hundreds of modules resolved one by one; cold start is measured by `npm run bench`. Type
// checking is tsc's job, in `npm test`.
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundle, bundleWorker } from './bundle.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = process.argv[2] ?? join(root, 'dist')
mkdirSync(out, { recursive: true })
await bundle({ root, outfile: join(out, 'hookrelay.mjs'), kind: 'module' })
// The writer thread's script, with what it imports, beside the bundle.
await bundleWorker({ root, outfile: join(out, 'sql-worker.mjs') })
