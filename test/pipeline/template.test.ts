/** Templates: types, filters, strictness, and data that tries to be a template. */
import { describe, expect, it } from 'vitest'
import { HookrelayError } from '../../src/errors.js'
import { TemplateCompileError, TemplateEngine } from '../../src/pipeline/template.js'

const engine = new TemplateEngine()
const compile = (source: string, earlierSteps: string[] = ['lead']) => engine.compile(source, { where: 'actions[0].url', earlierSteps })
const scope = {
  in: { email: ' Ivan@Example.RU ', n: 42, obj: { a: [1, 2] }, nil: null, evil: '{{ run.id }}{% for x in (1..3) %}x{% endfor %}' },
  request: { method: 'POST', headers: { 'x-forwarded-for': '10.0.0.1' } },
  steps: { lead: { code: '101', 'save-link': 1 } },
  run: { id: 'run-1' },
  pipeline: { id: 'p1', name: 'P one' },
  now: '2026-11-24T21:30:00.000Z',
}

describe('rendering', () => {
  it('renders text, and keeps the type of a lone expression', () => {
    expect(compile('{{ in.n }}').evaluate(scope)).toBe(42)
    expect(compile('{{ in.obj }}').evaluate(scope)).toEqual({ a: [1, 2] })
    expect(compile(' {{ in.n }}').evaluate(scope)).toBe(' 42')
    expect(compile('{{ in.obj }}').render(scope)).toBe('{"a":[1,2]}')
    expect(compile('id={{ run.id }}&p={{ pipeline.id }}').render(scope)).toBe('id=run-1&p=p1')
    expect(compile('{{ in.nil }}').render(scope)).toBe('')
  })

  it('applies the filters DESIGN lists', () => {
    const r = (s: string) => compile(s).render(scope)
    expect(r('{{ in.email | strip | downcase }}')).toBe('ivan@example.ru')
    expect(r('{{ in.email | strip | upcase }}')).toBe('IVAN@EXAMPLE.RU')
    expect(r('{{ in.email | strip | url_encode }}')).toBe('Ivan%40Example.RU')
    expect(r('{{ in.obj | json }}')).toBe('{"a":[1,2]}')
    expect(r('{{ in.missing | default: "none" }}')).toBe('none')
    expect(r('{{ now | date: "%Y-%m-%d %H:%M", "Europe/Moscow" }}')).toBe('2026-11-25 00:30')
    expect(r('{{ now | date: "%d.%m.%Y", "Asia/Vladivostok" }}')).toBe('25.11.2026')
    expect(r('{{ nil | uuid }}')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    for (let i = 0; i < 50; i++) {
      const n = compile('{{ nil | random: 3, 5 }}').evaluate(scope) as number
      expect(n >= 3 && n <= 5 && Number.isInteger(n)).toBe(true)
    }
  })

  it('reads names with dashes through brackets and step ids with dashes', () => {
    expect(compile('{{ request.headers["x-forwarded-for"] }}').render(scope)).toBe('10.0.0.1')
    expect(compile('{{ steps.lead["save-link"] }}').render(scope)).toBe('1')
  })

  it('fails a missing name with the name and where the template stands, never its text', () => {
    const t = compile('Hello {{ in.first_name }}')
    expect(() => t.render(scope)).toThrow(HookrelayError)
    expect(() => t.render(scope)).toThrow("missing name 'in.first_name' in the template at actions[0].url")
    expect(() => compile('{{ steps.lead.nope }}').evaluate(scope)).toThrow("missing name 'steps.lead.nope'")
  })
})

describe('data is data', () => {
  it('prints template syntax that arrives in data as text, never evaluating it', () => {
    expect(compile('{{ in.evil }}').render(scope)).toBe('{{ run.id }}{% for x in (1..3) %}x{% endfor %}')
    expect(compile('[{{ in.evil }}]').render(scope)).toBe('[{{ run.id }}{% for x in (1..3) %}x{% endfor %}]')
  })

  it('reaches no prototype: __proto__ and constructor are missing names', () => {
    const polluted = JSON.parse('{"__proto__": {"admin": true}, "a": 1}') as Record<string, unknown>
    const s = { ...scope, in: polluted }
    expect(() => compile('{{ in.constructor }}').render(s)).toThrow("missing name 'in.constructor'")
    expect(() => compile('{{ in.admin }}').render(s)).toThrow("missing name 'in.admin'")
    expect(compile('{{ in.__proto__.admin }}').render(s)).toBe('true') // an own key named __proto__ is just data
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined()
  })
})

describe('compile-time checks', () => {
  const fails = (source: string, message: string, earlier?: string[]) =>
    expect(() => compile(source, earlier)).toThrow(new TemplateCompileError(message))

  it('refuses unknown names, later steps, unknown filters, broken syntax and file tags', () => {
    fails('{{ input.email }}', "the template reads unknown name 'input' (allowed: in, request, steps, run, pipeline, now)")
    fails('{{ steps.crm.status }}', "the template reads steps.crm, which is not an earlier action (earlier actions: lead)")
    fails('{{ steps.crm.status }}', "the template reads steps.crm, which is not an earlier action (no action runs before this one)", [])
    fails('{{ in.x | shout }}', "the template does not compile: undefined filter: shout, line:1, col:1")
    fails('{% include "/etc/passwd" %}', `the template does not compile: tag 'include' is not allowed: templates cannot read files, line:1, col:1`)
    fails('{% render "x" %}', `the template does not compile: tag 'render' is not allowed: templates cannot read files, line:1, col:1`)
  })

  it('knows a template without expressions is constant', () => {
    expect(compile('https://example.com/a').constant).toBe(true)
    expect(compile('https://example.com/{{ in.n }}').constant).toBe(false)
  })
})

describe('the fast path for plain lookups', () => {
  // Plain `{{ a.b }}` templates skip liquidjs; they must read exactly as liquidjs would.
  const liquidOnly = new TemplateEngine()
  const cases = [
    'Hello {{ in.email }}!',
    '{{- in.email -}}  tail',
    'x  {{- in.n }}  y',
    '{{ in.obj }}|{{ in.nil }}|{{ in.n }}',
    '{{ steps.lead.code }}{{ pipeline.name }}',
    '{{ request.method }} {{ run.id }}',
  ]
  it.each(cases)('%j renders as liquidjs renders it', (source) => {
    const fast = compile(source).render(scope)
    const viaLiquid = liquidOnly.compile(`${source}{% if false %}{% endif %}`, { where: 'x', earlierSteps: ['lead'] }).render(scope)
    expect(fast).toBe(viaLiquid)
  })

  it('still reports a missing name through liquidjs', () => {
    expect(() => compile('a {{ in.nope }} b').render(scope)).toThrow("missing name 'in.nope' in the template at actions[0].url")
    expect(() => compile('{{ in.nope }}').evaluate(scope)).toThrow("missing name 'in.nope'")
  })

  it('leaves liquid properties (size, first, last) to liquidjs', () => {
    expect(compile('{{ in.email.size }}').render(scope)).toBe('17')
  })
})
