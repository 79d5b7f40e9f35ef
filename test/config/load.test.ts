/** Loading configs: a table of broken files with their exact messages, env substitution, the example. */
import { readdirSync } from 'node:fs'
import { Agent } from 'undici'
import { ACTION_TYPES } from '../../src/actions/index.js'
import { describe, expect, it } from 'vitest'
import { loadConfig, loadConfigText } from '../../src/config/load.js'
import { ConfigError } from '../../src/config/problems.js'
import { HttpClient } from '../../src/http/client.js'

const http = new HttpClient({ dispatcher: new Agent() })

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfigText(text, 'config.yaml', { env, http })
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  throw new Error('the config loaded, but problems were expected')
}

const load = (text: string, env: NodeJS.ProcessEnv = {}) => loadConfigText(text, 'config.yaml', { env, http })

/** Each case: a broken file and every line hookrelay must print for it, in order. */
const BROKEN: Array<[name: string, yaml: string, expected: string[]]> = [
  [
    'unknown key in an action',
    `pipelines:
  - id: p1
    source: { type: http, key: abcdefabcdef12 }
    actions:
      - id: a1
        type: http.request
        url: https://example.com
        methd: POST
`,
    [
      "config.yaml:8:9 pipelines[0].actions[0]: unknown key 'methd' (allowed: method, url, query, headers, body, success, allow_private_network, timeout, retries, id, type, continue_on_error) in pipeline 'p1'",
    ],
  ],
  [
    'missing environment variable',
    `pipelines:
  - id: p1
    source: { type: http, key: "\${HOOK_KEY}" }
    actions: []
`,
    ["config.yaml:3:32 pipelines[0].source.key: environment variable HOOK_KEY is not set (set it, or write ${HOOK_KEY:-default}) in pipeline 'p1'"],
  ],
  [
    'unknown source and action types, missing id',
    `pipelines:
  - id: p1
    source:
      type: webhook
    actions:
      - id: a1
        type: http.requets
        url: https://example.com
      - type: json.parse
        fields: { a: b }
`,
    [
      "config.yaml:4:13 pipelines[0].source.type: unknown source type 'webhook' (allowed: http, getcourse.user, getcourse.order, tilda, vk, facebook.leads, vk_ads.leads) in pipeline 'p1'",
      "config.yaml:7:15 pipelines[0].actions[0].type: unknown action type 'http.requets' (allowed: json.parse, http.request, bizon365.subscribe, dimaker.create, getcourse.update_user, email.send) in pipeline 'p1'",
      "config.yaml:9:9 pipelines[0].actions[1]: missing key 'id' in pipeline 'p1'",
    ],
  ],
  [
    'missing required keys',
    `pipelines:
  - id: p1
    source: { type: http, key: abcdefabcdef12 }
    actions:
      - id: a1
        type: http.request
  - id: p2
    actions: []
`,
    ["config.yaml:5:9 pipelines[0].actions[0]: missing key 'url' in pipeline 'p1'", "config.yaml:7:5 pipelines[1]: missing key 'source'"],
  ],
  [
    'wrong types and patterns everywhere, all reported at once',
    `server:
  port: "eighty"
  hots: x
pipelines:
  - id: Bad_ID
    source: { type: http }
    actions:
      - id: a
        type: http.request
        url: https://example.com
        timeout: 10 sec
        body: { json: {}, raw: "x" }
      - id: a
        type: json.parse
        fields: { x: '["a"' }
        from: "{{ steps.later.x }}"
      - id: later
        type: http.request
        url: "{{ nope.x }}"
  - id: p2
    source: { type: getcourse.user, methods: [GET] }
    actions: []
  - id: p2
    source: { type: http }
    actions: []
`,
    [
      "config.yaml:2:9 server.port: found 'eighty', expected a whole number",
      "config.yaml:3:3 server: unknown key 'hots' (allowed: host, port, public_url, body_limit, shutdown_grace, request_timeout, log_level, trust_proxy)",
      "config.yaml:5:9 pipelines[0].id: found 'Bad_ID', expected lower-case letters, digits and -",
      "config.yaml:11:18 pipelines[0].actions[0].timeout: found '10 sec', expected a duration such as 500ms, 10s, 2m, 1h, 7d or a number of seconds in pipeline 'Bad_ID'",
      "config.yaml:12:15 pipelines[0].actions[0].body: found a map (json, raw), expected exactly one of json, form, raw in pipeline 'Bad_ID'",
      "config.yaml:13:13 pipelines[0].actions[1].id: duplicate action id 'a' (first at actions[0]) in pipeline 'Bad_ID'",
      `config.yaml:15:22 pipelines[0].actions[1].fields.x: path '["a"': expected ']' at column 5 in pipeline 'Bad_ID'`,
      "config.yaml:16:15 pipelines[0].actions[1].from: the template reads steps.later, which is not an earlier action (earlier actions: a) in pipeline 'Bad_ID'",
      "config.yaml:19:14 pipelines[0].actions[2].url: the template reads unknown name 'nope' (allowed: in, request, steps, run, pipeline, now) in pipeline 'Bad_ID'",
      "config.yaml:21:46 pipelines[1].source.methods: getcourse.user accepts GET and POST; remove methods or use type http in pipeline 'p2'",
      "config.yaml:23:9 pipelines[2].id: duplicate pipeline id 'p2' (first at pipelines[1])",
    ],
  ],
  [
    'templates, statuses, headers and URLs checked at load',
    `pipelines:
  - id: p1
    source:
      type: http
      key: abcdefabcdef12
      response:
        headers: { "Bad Header": x, X-Ok: "a\\r\\nb" }
        body: "{{ steps.a1.status | nosuchfilter }}"
    actions:
      - id: a1
        type: http.request
        url: "ftp://example.com/{{ in.x"
        success: "2xx"
        headers: { X-Inject: "v\\nSet-Cookie: x=1" }
      - id: a2
        type: http.request
        url: not-a-url
        timeout: 0s
`,
    [
      "config.yaml:7:20 pipelines[0].source.response.headers: 'Bad Header' is not a valid header name in pipeline 'p1'",
      'config.yaml:7:43 pipelines[0].source.response.headers["X-Ok"]: a line break, which an HTTP header cannot carry; put such text in the body, or pass it through the url_encode filter in pipeline \'p1\'',
      "config.yaml:8:15 pipelines[0].source.response.body: the template does not compile: undefined filter: nosuchfilter, line:1, col:1 in pipeline 'p1'",
      "config.yaml:12:14 pipelines[0].actions[0].url: the template does not compile: output not closed, line:1, col:19 in pipeline 'p1'",
      'config.yaml:13:18 pipelines[0].actions[0].success: \'2xx\' is not a status pattern (allowed: three characters of digits and \'*\', comma-separated, e.g. "2**,409") in pipeline \'p1\'',
      'config.yaml:14:30 pipelines[0].actions[0].headers["X-Inject"]: a line break, which an HTTP header cannot carry; put such text in the body, or pass it through the url_encode filter in pipeline \'p1\'',
      "config.yaml:17:14 pipelines[0].actions[1].url: 'not-a-url' is not an http(s) URL in pipeline 'p1'",
      "config.yaml:18:18 pipelines[0].actions[1].timeout: '0s' is not a positive duration in pipeline 'p1'",
    ],
  ],
  [
    'header values and a status text that HTTP cannot carry',
    `pipelines:
  - id: p1
    source:
      type: http
      response:
        status_text: "Принято"
        headers: { X-Source: "Тильда {{ in.form }}", X-Bell: "a\\u0007b", X-Ok: "Café {{ in.x }}" }
    actions:
      - { id: a1, type: http.request, url: "https://example.com/", headers: { X-Name: "Иван" } }
`,
    [
      "config.yaml:6:22 pipelines[0].source.response.status_text: a character outside Latin-1 ('П'; Cyrillic is such), which an HTTP status line cannot carry; use Latin letters in pipeline 'p1'",
      "config.yaml:7:30 pipelines[0].source.response.headers[\"X-Source\"]: a character outside Latin-1 ('Т'; Cyrillic is such), which an HTTP header cannot carry; put such text in the body, or pass it through the url_encode filter in pipeline 'p1'",
      "config.yaml:7:62 pipelines[0].source.response.headers[\"X-Bell\"]: a control character, which an HTTP header cannot carry; put such text in the body, or pass it through the url_encode filter in pipeline 'p1'",
      "config.yaml:9:87 pipelines[0].actions[0].headers[\"X-Name\"]: a character outside Latin-1 ('И'; Cyrillic is such), which an HTTP header cannot carry; put such text in the body, or pass it through the url_encode filter in pipeline 'p1'",
    ],
  ],
  [
    "lead-form sources: each checked with its own keys",
    `pipelines:
  - id: v
    source: { type: vk, key: abcdefabcdef12, secret: s }
    actions: []
  - id: f
    source: { type: facebook.leads, verify_token: a, app_secret: b, page_token: c, methods: [POST], api_version: "25" }
    actions: []
  - id: a
    source: { type: vk_ads.leads, token: t, key: k, interval: 500ms }
    actions: []
`,
    [
      "config.yaml:3:13 pipelines[0].source: missing key 'confirmation' in pipeline 'v'",
      "config.yaml:6:84 pipelines[1].source: unknown key 'methods' (allowed: type, verify_token, app_secret, page_token, graph_url, api_version, timeout, retries, key, respond, response, on_error, dedupe, dedupe_window) in pipeline 'f'",
      "config.yaml:6:114 pipelines[1].source.api_version: found '25', expected a version such as v25.0 in pipeline 'f'",
      "config.yaml:9:45 pipelines[2].source: unknown key 'key' (allowed: type, token, interval, base_url, timeout, dedupe, dedupe_window) in pipeline 'a'",
    ],
  ],
  ['YAML: an unclosed brace', 'pipelines:\n  - id: p1\n    source: { type: http\n    actions: []\n', ['config.yaml:3:13 pipelines[0].source: this { is never closed: add the } at the end of the line']],
  ['YAML: duplicate keys', 'pipelines: []\npipelines: []\n', ['config.yaml:2:1 pipelines: this key appears twice in the same map: keep one of them']],
  [
    'YAML: one unclosed quote is one message, at the quote that opens it',
    'pipelines:\n  - id: a\n    source: { type: http }\n    actions:\n      - id: call\n        type: http.request\n        url: "https://crm.example.ru/api\n        method: POST\n  - id: b\n    source: { type: http }\n    actions: []\n',
    ['config.yaml:7:14 pipelines[0].actions[0].url: this value\'s double quote is never closed: add the closing " at the end of the value'],
  ],
  ['YAML: a key indented one space off', 'pipelines:\n  - id: a\n    source: { type: http }\n    actions:\n      - id: call\n        type: http.request\n       url: https://x.ru\n', ['config.yaml:7:1 pipelines[0].actions[0].url: this line is indented differently from the lines above it: the keys of one map must start in the same column']],
  ['YAML: a tab', 'pipelines:\n  - id: a\n\tsource: { type: http }\n', ['config.yaml:3:1 pipelines[0].source: this line is indented with a tab: YAML indents with spaces only']],
  ['YAML: ${NAME} unquoted in a flow map', 'server: { host: 127.0.0.1, port: ${PORT:-0} }\npipelines: []\n', [
      'config.yaml:1:35 server: an unquoted ${NAME} inside { ... } is read as YAML: put it in quotes ("${NAME}"), or write the map one key per line (fix this first: the 6 other complaints the YAML parser has after it most likely come from it)',
    ]],
  ['YAML: ": " in a value', 'pipelines:\n  - id: a\n    name: Заказ: новый\n', ['config.yaml:3:11 pipelines[0].name: this value contains ": ", which YAML reads as a new key: put the whole value in quotes']],
  ['no pipelines key', 'server: { port: 8080 }\n', ["config.yaml:1:1 (top level): missing key 'pipelines'"]],
]

describe('broken configs', () => {
  it.each(BROKEN)('%s', (_name, yaml, expected) => {
    expect(problems(yaml)).toEqual(expected)
  })

  it('names a missing file', () => {
    expect(() => loadConfig({ path: 'no/such/config.yaml', http })).toThrow('no/such/config.yaml: file not found')
  })
})

describe('environment variables', () => {
  const yaml = `server:
  port: \${PORT}
pipelines:
  - id: p1
    source: { type: http, key: "\${KEY}" }
    actions:
      - id: a1
        type: http.request
        url: "https://example.com/\${PATH_PART:-default/path}"
        headers: { Authorization: "Bearer \${TOKEN}" }
`

  it('substitutes values, keeps a plain number a number, and uses fallbacks', () => {
    const loaded = load(yaml, { PORT: '9090', KEY: 'key-from-env-0123', TOKEN: 'tok#en: with yaml chars' })
    expect(loaded.settings.port).toBe(9090)
    expect(loaded.pipelines[0]!.source.keyMatches('key-from-env-0123')).toBe(true)
    const action = loaded.config.pipelines[0]!.actions[0] as { url: string; headers: Record<string, string> }
    expect(action.url).toBe('https://example.com/default/path')
    expect(action.headers['Authorization']).toBe('Bearer tok#en: with yaml chars')
  })

  it('masks values that came from the environment, but not the port', () => {
    const loaded = load(yaml, { PORT: '9090', KEY: 'key-from-env-0123', TOKEN: 'tok#en: with yaml chars' })
    expect(loaded.masker.text('a key-from-env-0123 b tok#en: with yaml chars c 9090')).toBe('a *** b *** c 9090')
  })

  it('reads a whole ${NAME} as a number or true/false only where the schema wants one', () => {
    const loaded = load(
      `server:
  port: \${PORT}
pipelines:
  - id: p1
    name: \${NAME}
    enabled: \${ON}
    source:
      type: http
      key: \${KEY}
    actions: []
`,
      { PORT: '9090', NAME: '007', ON: 'false', KEY: '4815162342000' },
    )
    expect(loaded.settings.port).toBe(9090)
    expect(loaded.config.pipelines[0]).toMatchObject({ name: '007', enabled: false, source: { key: '4815162342000' } })
    // A long all-digit value is a secret like any other; a port-sized one stays readable.
    expect(loaded.masker.text('key 4815162342000 on 9090')).toBe('key *** on 9090')
  })

  it('says what a variable held when it is not the number the key needs', () => {
    expect(problems('server:\n  port: ${PORT}\npipelines: []\n', { PORT: 'eighty' })).toEqual([
      "config.yaml:2:9 server.port: found 'eighty', expected a whole number",
    ])
  })

  it('never reads template syntax inside an environment value as a template', () => {
    const loaded = load(
      `pipelines:
  - id: p1
    source: { type: http, key: abcdefabcdef12, response: { body: "[\${SECRET}] {{ pipeline.id }}" } }
    actions: []
`,
      { SECRET: '{{ run.id }}{% if x %}' },
    )
    expect(loaded.pipelines[0]!.source.answer.render({ pipeline: { id: 'p1' } }).body).toBe('[{{ run.id }}{% if x %}] p1')
  })
})

describe('good configs', () => {
  it('config.example.yaml loads with no environment variable, warning only of its demo values', () => {
    const loaded = loadConfig({ path: 'config.example.yaml', env: {}, http })
    expect(loaded.warnings.map((w) => w.split(' ').slice(0, 2).join(' '))).toEqual([
      'config.example.yaml:17:10 journal.token:',
      'config.example.yaml:34:12 pipelines[0].source.key:',
      'config.example.yaml:73:12 pipelines[1].source.key:',
    ])
    expect(loaded.demoValues).toHaveLength(3)
  })

  it('config.example.yaml and examples/ together use every action', () => {
    const files = ['config.example.yaml', ...readdirSync('examples').map((f) => `examples/${f}`)]
    const used = new Set(files.flatMap((path) => loadConfig({ path, env: { HOOK_KEY: 'a-hook-key-0123456789' }, http }).config.pipelines.flatMap((p) => p.actions.map((a) => a.type))))
    expect([...used].sort()).toEqual([...ACTION_TYPES].sort())
  })

  it('warns about a pipeline without a key and a short journal token', () => {
    const loaded = load(`journal: { token: Tq8shrt }
pipelines:
  - id: open
    source: { type: http }
    actions: []
`)
    expect(loaded.warnings).toEqual([
      'config.yaml:1:19 journal.token: warning: the token is short; use at least 16 random characters',
      "config.yaml:4:13 pipelines[0].source: warning: no key, so anyone who guesses the id can trigger this pipeline in pipeline 'open'",
    ])
  })
})
