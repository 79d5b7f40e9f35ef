#!/usr/bin/env node
// The hookrelay command. In a checkout it runs the TypeScript sources through tsx; in the
// production image, where dev dependencies (tsx) are absent, it runs the bundle in dist/.

// A SIGHUP while the modules load (an SSH session closing) must not end a server about to
// start: `serve` reloads on it once it is up (src/main.ts). Any command may ignore it.
process.on('SIGHUP', () => {})

let tsx
try {
  tsx = await import('tsx/esm/api')
} catch {
  tsx = undefined
}
if (tsx) {
  tsx.register()
  await import('../src/main.ts')
} else {
  await import('../dist/hookrelay.mjs')
}
