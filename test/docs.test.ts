/**
 * The docs come from the code and hold together: every error code and action is documented as
 * the code has it, every link leads somewhere, every complete config in the docs passes
 * `check`, the GetCourse steps `hookrelay urls` prints are the walkthroughs' steps, and the
 * README stays short enough for a newcomer.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ACTIONS } from '../src/actions/index.js'
import { urlLines } from '../src/cli/urls.js'
import { loadConfig, loadConfigText } from '../src/config/load.js'
import { ERRORS } from '../src/errors.js'
import { createHttpClient } from '../src/http/client.js'
import { NOT_SECRET_NAMES, SECRET_NAME_PARTS } from '../src/secrets/names.js'

const read = (path: string) => readFileSync(path, 'utf8')
const readme = read('README.md')
const DOCS = ['README.md', 'CONTRIBUTING.md', ...files('docs', '.md')]
const { http, close } = createHttpClient()
afterAll(() => close())

function files(dir: string, ending: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path, ending) : path.endsWith(ending) ? [path] : []
  })
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const [, heading] of markdown.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(heading!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

describe('README', () => {
  it('is short enough for a newcomer, and has the quick start, deploy, the flows, the journal and troubleshooting', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12_500)
    for (const heading of ['## Quick start', '### Быстрый старт (по-русски)', '## Deploy', '## The five flows', '## Reading the journal', '## Troubleshooting']) {
      expect(readme).toContain(`\n${heading}\n`)
    }
    expect(readme).toContain('npm install\nnpm start')
    expect(readme).toContain('curl -g')
  })
})

describe('links', () => {
  const links = DOCS.flatMap((file) =>
    [...read(file).replace(/```[\s\S]*?```/g, '').matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)]
      .map((m) => m[1]!)
      .filter((target) => !/^(https?:|mailto:)/.test(target))
      .map((target) => [file, target] as const),
  )

  it.each(links)('%s → %s resolves', (file, target) => {
    const [path, anchor] = target.split('#') as [string, string | undefined]
    const file2 = path === '' ? file : resolve(dirname(file), path)
    expect(existsSync(file2), `${file2} exists`).toBe(true)
    if (anchor) expect([...anchors(read(file2))]).toContain(anchor)
  })
})

describe('configs in the docs', () => {
  const env = { JOURNAL_TOKEN: 'docs-journal-token-0123456789', HOOK_KEY: 'docs-hook-key-0123456789', BIZON_TOKEN: 'docs-bizon-token', SMTP_URL: 'smtp://127.0.0.1:2525' }
  const blocks = DOCS.flatMap((file) =>
    [...read(file).matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((yaml) => /^pipelines:/m.test(yaml)).map((yaml) => [file, yaml] as const),
  )
  it('there is at least one', () => expect(blocks.length).toBeGreaterThan(0))

  it.each(blocks)('a complete config in %s passes check', (file, yaml) => {
    expect(() => loadConfigText(yaml, file, { http, env })).not.toThrow()
  })

  const examples = [...new Set(DOCS.flatMap((file) => [...read(file).matchAll(/examples\/[a-z0-9-]+\.yaml/g)].map((m) => m[0])))]
  it.each(examples)('%s, named in the docs, exists and passes check', (example) => {
    expect(() => loadConfig({ path: example, http, env: { HOOK_KEY: env.HOOK_KEY } })).not.toThrow()
  })
})

describe('the GetCourse steps', () => {
  const walkthroughs = read('docs/walkthroughs.md')
  it.each(['examples/getcourse-order-to-bizon365.yaml', 'examples/getcourse-user-to-http-request.yaml', 'examples/getcourse-dimaker-certificates.yaml'])(
    '`hookrelay urls` for %s prints the steps its walkthrough shows',
    (example) => {
      const loaded = loadConfig({ path: example, http, env: { HOOK_KEY: 'k' } })
      const steps = loaded.config.pipelines.flatMap((p) => urlLines(loaded, p).slice(1).map((line) => line.trim()))
      expect(steps.length).toBeGreaterThan(0)
      const section = walkthroughs.slice(walkthroughs.indexOf(`(\`${example}\`)`))
      const shown = section.slice(0, section.indexOf('**По-русски.**'))
      for (const step of steps) expect(shown).toContain(`   ${step}\n`)
    },
  )
})

describe('reference tables', () => {
  const errorCodes = read('docs/error-codes.md')
  it.each(Object.keys(ERRORS))('docs/error-codes.md documents %s', (code) => {
    expect(errorCodes).toMatch(new RegExp(`^\\| \`${code}\` \\|`, 'm'))
  })

  it('docs/security.md lists the name parts that mark a secret, and the names that are not, as the code has them', () => {
    const security = read('docs/security.md')
    const masking = security.slice(security.indexOf('## Masking'), security.indexOf('## Requests the HTTP parser refuses'))
    const listed = (after: string, before: string) => [...masking.slice(masking.indexOf(after), masking.indexOf(before, masking.indexOf(after))).matchAll(/`([a-z]+)`/g)].map((m) => m[1])
    expect(listed('contains one of', 'unless')).toEqual([...SECRET_NAME_PARTS])
    expect(listed('unless it is one of', '. So')).toEqual([...NOT_SECRET_NAMES])
  })

  it('docs/actions.md has the action table of the registry, in order, and each action’s outputs', () => {
    const actions = read('docs/actions.md')
    const table = [...actions.matchAll(/^\| `([a-z0-9._]+)` \| (.+) \|$/gm)].filter(([, type]) => ACTIONS.some((a) => a.type === type))
    const summaries = table.filter(([, , text]) => !text!.startsWith('`') && !text!.startsWith('the names'))
    expect(summaries.map(([, type, summary]) => [type, summary])).toEqual(ACTIONS.map((a) => [a.type, a.summary]))
    for (const action of ACTIONS.filter((a) => a.type !== 'json.parse')) {
      const row = table.find(([, type, text]) => type === action.type && text!.startsWith('`'))
      expect(row?.[2]).toBe(action.outputs({} as never).map((name) => `\`${name}\``).join(', '))
    }
  })
})

describe('error table', () => {
  const code = files('src', '.ts')
    .filter((f) => f !== join('src', 'errors.ts'))
    .map(read)
    .join('\n')

  it.each(Object.keys(ERRORS))('%s is raised somewhere', (name) => {
    expect(code).toContain(`'${name}'`)
  })
})
