/** JSON paths: the seed's bracket form, the dotted form, errors, and own-property lookups only. */
import { describe, expect, it } from 'vitest'
import { formatPath, lookup, parsePath } from '../../src/pipeline/json-path.js'

const doc = {
  raw: [
    { q: 'ab6c5412', a: '3f0bb0ea' },
    { q: 'd337ecb3', a: 'f3d4933b' },
  ],
  appealType: { Code: '101', 'Имя поля': 'да', 'a.b': 'dot', 'q"uote': 'q' },
  n: 0,
  f: false,
}

describe('parsePath', () => {
  it.each([
    ['["raw"][1]["q"]', ['raw', 1, 'q']],
    ['raw[1].q', ['raw', 1, 'q']],
    ['$.raw[1].q', ['raw', 1, 'q']],
    ["['appealType']['Code']", ['appealType', 'Code']],
    ['appealType.Code', ['appealType', 'Code']],
    ['["appealType"]["Имя поля"]', ['appealType', 'Имя поля']],
    ['appealType["a.b"]', ['appealType', 'a.b']],
    ['appealType["q\\"uote"]', ['appealType', 'q"uote']],
    ['[ "raw" ][ 0 ]', ['raw', 0]],
  ])('%s', (source, expected) => {
    expect(parsePath(source)).toEqual(expected)
  })

  it.each([
    ['', "path '': the path is empty at column 1"],
    ['["raw"', "path '[\"raw\"': expected ']' at column 7"],
    ['["raw]', "path '[\"raw]': unterminated quoted key at column 2"],
    ['raw[-1]', "path 'raw[-1]': expected a quoted key or an index at column 5"],
    ['raw..q', "path 'raw..q': expected a key name at column 5"],
    ['raw[1]q', "path 'raw[1]q': unexpected \"q\" at column 7"],
    ['constructor.constructor("return process")()', "path 'constructor.constructor(\"return process\")()': unexpected \"\\\"\" at column 25"],
  ])('refuses %s', (source, message) => {
    expect(() => parsePath(source)).toThrow(message)
  })
})

describe('lookup', () => {
  it('finds values of every type, including falsy ones', () => {
    expect(lookup(doc, parsePath('["raw"][1]["q"]'))).toEqual({ found: true, value: 'd337ecb3' })
    expect(lookup(doc, parsePath('raw.0.a'))).toEqual({ found: true, value: '3f0bb0ea' })
    expect(lookup(doc, parsePath('n'))).toEqual({ found: true, value: 0 })
    expect(lookup(doc, parsePath('f'))).toEqual({ found: true, value: false })
    expect(lookup(doc, parsePath('raw'))).toEqual({ found: true, value: doc.raw })
  })

  it('reports missing paths, out-of-range indexes and paths through scalars', () => {
    expect(lookup(doc, parsePath('raw[2].q')).found).toBe(false)
    expect(lookup(doc, parsePath('n.x')).found).toBe(false)
    expect(lookup(doc, parsePath('nope')).found).toBe(false)
  })

  it('follows own properties only', () => {
    expect(lookup(doc, parsePath('constructor')).found).toBe(false)
    expect(lookup(doc, parsePath('__proto__')).found).toBe(false)
    expect(lookup(doc, parsePath('raw.length')).found).toBe(false)
    const own = JSON.parse('{"__proto__": {"x": 1}}') as unknown
    expect(lookup(own, parsePath('["__proto__"]["x"]'))).toEqual({ found: true, value: 1 })
  })

  it('formats paths back to the seed form', () => {
    expect(formatPath(['raw', 1, 'q'])).toBe('["raw"][1]["q"]')
  })
})
