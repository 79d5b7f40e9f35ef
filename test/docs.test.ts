/** Docs come from code: README lists every error code and the action registry as it is. */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ACTIONS } from '../src/actions/index.js'
import { ERRORS } from '../src/errors.js'
import { NOT_SECRET_NAMES, SECRET_NAME_PARTS } from '../src/secrets/names.js'

const readme = readFileSync('README.md', 'utf8')

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : []
  })
}

describe('README', () => {
  it.each(Object.keys(ERRORS))('documents %s', (code) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${code}\` \\|`, 'm'))
  })

  it('lists the name parts that mark a secret, and the names that are not, as the code has them', () => {
    const masking = readme.slice(readme.indexOf('### Masking'), readme.indexOf('## Logs'))
    const listed = (after: string, before: string) => [...masking.slice(masking.indexOf(after), masking.indexOf(before, masking.indexOf(after))).matchAll(/`([a-z]+)`/g)].map((m) => m[1])
    expect(listed('contains one of', 'unless')).toEqual([...SECRET_NAME_PARTS])
    expect(listed('unless it is one of', '. So')).toEqual([...NOT_SECRET_NAMES])
  })

  it('has the action table of the registry, in order', () => {
    const table = [...readme.matchAll(/^\| `([a-z0-9._]+)` \| (.+) \|$/gm)].filter(([, type]) => ACTIONS.some((a) => a.type === type))
    expect(table.map(([, type, summary]) => [type, summary])).toEqual(ACTIONS.map((a) => [a.type, a.summary]))
  })
})

describe('error table', () => {
  const code = sources('src')
    .filter((f) => f !== join('src', 'errors.ts'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n')

  it.each(Object.keys(ERRORS))('%s is raised somewhere', (name) => {
    expect(code).toContain(`'${name}'`)
  })
})
