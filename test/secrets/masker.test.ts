/** The masker on its own: which names mark a secret, how values are found in text, what a run learns. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { credentialParts, headerSecrets, learnUserinfo } from '../../src/secrets/learn.js'
import { Masker, RUN_LEARNING } from '../../src/secrets/masker.js'
import { hideSpans, SecretMatcher } from '../../src/secrets/matcher.js'
import { isSecretName, mayNameSecret } from '../../src/secrets/names.js'
import { hideRequestTarget, hideUserinfo } from '../../src/secrets/urls.js'
import { parseBody } from '../../src/sources/body.js'
import { keepRequest } from '../../src/sources/incoming.js'

describe('secret names', () => {
  it('compares names lower-cased without - _ and .', () => {
    for (const name of ['accessToken', 'access_token', 'X-Api-Key', 'apitoken', 'client_secret', 'clientSecret', 'Authorization', 'x-hub-signature-256', 'pass.word', 'Set-Cookie', 'x-csrf-token']) {
      expect(isSecretName(name), name).toBe(true)
    }
    for (const name of ['email', 'first_name', 'phone', 'author', 'keyword', 'utm_keyword', 'status', 'content-type', 'x-hookrelay-run']) {
      expect(isSecretName(name), name).toBe(false)
    }
  })

  it('finds that a body may hold a secret-named field however the name is spelled', () => {
    expect(mayNameSecret('{"Pass_Word":"x"}')).toBe(true)
    expect(mayNameSecret('{"ACCESS-TOKEN":"x"}')).toBe(true)
    expect(mayNameSecret('{"email":"ivan@example.com","name":"Иван"}')).toBe(false)
  })
})

describe('finding values in text', () => {
  it('hides a secret inside another whole, and two that overlap as one', () => {
    const mask = new Masker(['hunter22pass', 'hunter22pass-and-more-secret-part', 'Rb5nTailOvlp', 'TailOvlpQx3yEnd'])
    expect(mask.text('a hunter22pass-and-more-secret-part b hunter22pass c')).toBe('a *** b *** c')
    expect(mask.text('x Rb5nTailOvlpQx3yEnd y')).toBe('x *** y')
    expect(mask.text('aaaa aaaaaaaaa')).toBe('aaaa aaaaaaaaa')
    expect(new Masker(['aaaa']).text('aaaaaaaaa b aaaa')).toBe('*** b ***')
  })

  it('finds a secret as URLs, forms and JSON write it', () => {
    const secret = `Zq$9&Pw+x,<k>"y z`
    const mask = new Masker([secret])
    const url = new URL('http://h/')
    url.username = secret
    url.search = secret
    url.pathname = `/${secret}`
    const forms = [
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
      JSON.stringify(secret),
      JSON.stringify(JSON.stringify(secret)),
      url.username,
      url.search,
      url.pathname,
    ]
    for (const form of forms) expect(mask.text(`<${form}>`), form).not.toContain('Pw')
  })

  it('finds exactly what a plain search finds, for any strings in any text (generated)', () => {
    // The reference: every occurrence of every string by indexOf, the stretches that touch merged.
    const reference = (strings: string[], text: string) => {
      const spans: Array<[number, number]> = []
      for (const s of strings) for (let i = text.indexOf(s); i !== -1; i = text.indexOf(s, i + 1)) spans.push([i, i + s.length])
      return hideSpans(text, spans.sort((a, b) => a[0] - b[0]))
    }
    const alphabet = fc.constantFrom('a', 'b', 'ab', 'Ж', '\\', '"', '\u{1F600}')
    const word = fc.array(alphabet, { minLength: 1, maxLength: 6 }).map((parts) => parts.join(''))
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 8 }), fc.array(alphabet, { maxLength: 60 }), (strings, parts) => {
        const text = parts.join('')
        expect(hideSpans(text, new SecretMatcher(strings).spans(text))).toBe(reference(strings, text))
        expect(hideSpans(text, new SecretMatcher(strings, { prefilter: true }).spans(text))).toBe(reference(strings, text))
      }),
      { numRuns: 2000 },
    )
  })

  it('does not search for values shorter than 4 characters', () => {
    expect(new Masker(['on', 'abc']).text('on abc')).toBe('on abc')
  })

  it('drops the start of a secret that a cut left at the end of a text', () => {
    const mask = new Masker(['Bg4tCutAtLimit6Hs'])
    expect(mask.trimCutSecret('bbbbBg4tCutA')).toBe('bbbb')
    expect(mask.trimCutSecret('bbbbB')).toBe('bbbb')
    expect(mask.trimCutSecret('bbbbX')).toBe('bbbbX')
  })
})

describe('what a run learns', () => {
  it('keeps what one run learns to that run', () => {
    const config = new Masker(['config-secret-1'])
    const run = config.forRun()
    run.learn('run-secret-22')
    expect(run.text('config-secret-1 run-secret-22')).toBe('*** ***')
    expect(config.text('config-secret-1 run-secret-22')).toBe('*** run-secret-22')
    expect(config.forRun().text('run-secret-22')).toBe('run-secret-22')
  })

  it('learns credentials with and without their scheme, Basic decoded too', () => {
    expect(credentialParts('Bearer abc.def')).toEqual(['Bearer abc.def', 'abc.def'])
    const basic = Buffer.from('api:Pw0rd!x').toString('base64')
    expect(credentialParts(`Basic ${basic}`)).toEqual([`Basic ${basic}`, basic, 'api:Pw0rd!x', 'Pw0rd!x'])
    expect(headerSecrets({ authorization: 'Bearer Br8xIncoming', 'x-api-key': 'Ak1yHeaderKey', accept: 'application/json' })).toEqual([
      'Bearer Br8xIncoming',
      'Br8xIncoming',
      'Ak1yHeaderKey',
    ])
  })

  it('learns the password of a URL, or its user when it has no password', () => {
    const mask = new Masker()
    learnUserinfo(mask, 'smtp://ops:p%40ss%3Aword@smtp.example.ru:587 and https://sk_live_K3y9@api.example.com/')
    expect(mask.text('p@ss:word p%40ss%3Aword sk_live_K3y9 ops')).toBe('*** *** *** ops')
    expect(hideUserinfo('https://api:secret@example.com/a?b=1')).toBe('https://***@example.com/a?b=1')
  })

  it(`learns up to ${RUN_LEARNING.values} values under secret names, and counts the rest`, () => {
    const mask = new Masker().forRun()
    const values = Array.from({ length: RUN_LEARNING.values + 50 }, (_, i) => `value-${i}-Qz`)
    mask.learnFields({ list: values.map((v, i) => ({ [`f${i}_token`]: v })) })
    expect(mask.overflow).toBe(50)
    expect(mask.text(values[0]!)).toBe('***')
    expect(mask.text(values.at(-1)!)).toBe(values.at(-1))
    // Where it sits under its name, a value beyond the limit is hidden all the same.
    expect(mask.value({ f81_token: values.at(-1) })).toEqual({ f81_token: '***' })
  })
})

describe('masking values and bodies', () => {
  it('hides everything under a secret-named field, keeping the shape', () => {
    const mask = new Masker()
    expect(mask.value({ auth: { user: 'u', password: 'p' }, tokens: ['a', 'b'], empty_token: '', name: 'Ivan' })).toEqual({
      auth: { user: '***', password: '***' },
      tokens: ['***', '***'],
      empty_token: '',
      name: 'Ivan',
    })
  })

  it('copies a field named __proto__ as a plain field: no prototype is set, and what is under it is masked', () => {
    const mask = new Masker(['the-config-secret-1'])
    const sent = JSON.parse('{"__proto__": {"password": "p4ssw0rd-x", "note": "the-config-secret-1", "admin": true}, "a": 1}') as unknown
    const masked = mask.value(sent) as unknown as Record<string, unknown>
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype)
    expect((masked as { admin?: unknown }).admin).toBeUndefined()
    expect(Object.keys(masked)).toEqual(['__proto__', 'a'])
    expect(JSON.stringify(masked)).toBe('{"__proto__":{"password":"***","note":"***","admin":true},"a":1}')
  })

  it('hides secret-named fields of JSON and form bodies, and leaves other bodies as they were', () => {
    const mask = new Masker()
    expect(mask.body('{ "data": { "access_token": "abc", "n": 1 } }')).toBe('{"data":{"access_token":"***","n":1}}')
    const plain = '{ "name": "Иван",\n  "n": 1 }'
    expect(mask.body(plain)).toBe(plain)
    expect(mask.body('token=abc&note=plain', 'application/x-www-form-urlencoded')).toBe('token=***&note=plain')
    expect(mask.body('token=abc&note=plain', 'text/plain')).toBe('token=abc&note=plain')
  })

  it('masks a parsed body exactly as it masks its text (intake looks at the parsed fields, not the text again)', () => {
    const mask = new Masker(['a-config-secret-4Kq']).forRun({ pairs: [{ name: 'key', value: 'answer' }] })
    const name = fc.oneof(fc.constantFrom('password', 'token', 'key', 'answer', 'email', 'name', '__proto__', 'x-api-key'), fc.string({ maxLength: 6 }))
    const leaf = fc.oneof(fc.string({ maxLength: 12 }), fc.constant('a-config-secret-4Kq'), fc.constant(''), fc.boolean(), fc.constant(null), fc.integer())
    const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({ tree: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(name, tie('tree'), { maxKeys: 5 })) }))
    fc.assert(
      fc.property(fc.dictionary(name, tree, { maxKeys: 6 }), fc.array(fc.tuple(name, fc.string({ maxLength: 8 })), { maxLength: 6 }), (value, pairs) => {
        const text = JSON.stringify(value)
        expect(mask.parsedBody(text, JSON.parse(text), 'application/json')).toBe(mask.body(text, 'application/json'))
        const form = new URLSearchParams(pairs).toString()
        const fields = parseBody(Buffer.from(form), 'application/x-www-form-urlencoded').value
        expect(mask.parsedBody(form, fields, 'application/x-www-form-urlencoded')).toBe(mask.body(form, 'application/x-www-form-urlencoded'))
      }),
      { numRuns: 500 },
    )
  })

  it('keeps a JSON body sent as a form and a form with a percent-encoded secret name hidden as shown', () => {
    const keep = (text: string, type: string) => {
      const req = { method: 'POST', path: '/hooks/x/***', query: {}, headers: { 'content-type': type }, body: parseBody(Buffer.from(text), type), receivedAt: new Date() }
      return keepRequest(req, new Masker().forRun()).shown
    }
    expect(keep('{"password":"hunter22x","note":"n"}', 'application/x-www-form-urlencoded')).toBe('{"password":"***","note":"n"}')
    expect(keep('%70assword=hunter22x&name=Ivan', 'application/x-www-form-urlencoded')).toBe('password=***&name=Ivan')
    expect(keep('{"password":"hunter22x"}', 'text/plain')).toBe('{"password":"***"}')
    expect(keep('{"name":"Ivan"}', 'application/json')).toBeUndefined()
  })

  it('hides the key and secret-named query parameters of a request target', () => {
    expect(hideRequestTarget('/hooks/gc/Uk7mKey?email=a%40b.ru&access_token=x&token=y&token=z')).toBe('/hooks/gc/***?email=a%40b.ru&access_token=***&token=***')
  })
})
