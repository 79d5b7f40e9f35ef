/**
 * `check` catches names that are known at load: the fields a GetCourse preset sends, the
 * standard fields of the lead platforms, and what each earlier step gives. Through the real
 * loader, with the file's line and column.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfigText } from '../../src/config/load.js'
import { ConfigError } from '../../src/config/problems.js'
import { createHttpClient } from '../../src/http/client.js'

const { http, close } = createHttpClient()
afterAll(() => close())

/** The problems `check` would print for a pipeline with this source and these actions. */
function problems(source: string, actions: string): string[] {
  const yaml = `pipelines:\n  - id: p\n    source: ${source}\n    actions:\n${actions}`
  try {
    loadConfigText(yaml, 'config.yaml', { http, env: {} })
    return []
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
}

const GC = '{ type: getcourse.user, key: gc-key-0123456789abcdef }'
const HTTP = '{ type: http, key: http-key-0123456789abcdef }'
const call = (url: string) => `      - { id: crm, type: http.request, url: "https://crm.example.ru/${url}" }\n`
const parse = '      - { id: lead, type: json.parse, fields: { email: "$.email", phone: "$.phone" } }\n'

describe('names known at load', () => {
  it('a misspelt GetCourse field, with where it is and what was meant', () => {
    expect(problems(GC, call('?e={{ in.emial }}'))).toEqual([
      "config.yaml:5:45 pipelines[0].actions[0].url: the template reads in.emial, which the getcourse.user source does not send (it sends: id, email, phone, first_name, last_name, name, city, utm_source, utm_medium, utm_campaign, utm_content, utm_term); did you mean 'email'? (if you added this parameter to the URL in GetCourse yourself, give it a name further from these) in pipeline 'p'",
    ])
    expect(problems(GC, call('?p={{ in.phon }}'))[0]).toContain("the template reads in.phon, which the getcourse.user source does not send (it sends: id, email, phone, first_name, last_name, name, city, utm_source, utm_medium, utm_campaign, utm_content, utm_term); did you mean 'phone'?")
    // A parameter the operator added to the URL in GetCourse arrives in in.* too: its own name is fine.
    expect(problems(GC, call('?g={{ in.group }}&n={{ in.note }}'))).toEqual([])
    expect(problems(GC, call("?e={{ in.email }}&g={{ request.query.group }}&f={{ in.first_name | default: '' }}"))).toEqual([])
  })

  it("a json.parse field or another step's output that the step does not give", () => {
    expect(problems(HTTP, parse + call('?p={{ steps.lead.phon }}'))).toEqual([
      "config.yaml:6:45 pipelines[0].actions[1].url: the template reads steps.lead.phon, which step 'lead' (json.parse) does not give (it gives: email, phone); did you mean 'phone'? in pipeline 'p'",
    ])
    const answer = `{ type: http, key: http-key-0123456789abcdef, response: { body: "{{ steps.crm.statsu }}" } }`
    expect(problems(answer, call(''))[0]).toContain("the template reads steps.crm.statsu, which step 'crm' (http.request) does not give (it gives: status, headers, body, json); did you mean 'status'?")
    // Inside an output whose shape is the upstream's, anything goes; `size` is Liquid's.
    expect(problems(HTTP, parse + call('?a={{ steps.lead.email }}') + '      - { id: next, type: http.request, url: "https://x.example.ru/{{ steps.crm.json.data.id }}/{{ steps.crm.body.size }}" }\n')).toEqual([])
  })

  it('a lead platform: a near miss of a standard field is a typo; the form’s own questions are fine', () => {
    const vk = '{ type: vk, key: vk-key-0123456789abcdef, confirmation: abc123, secret: vk-secret-0123456789 }'
    expect(problems(vk, call('?p={{ in.phone_numbr }}'))[0]).toContain("the template reads in.phone_numbr, which the vk source does not send (it sends: lead_id, group_id, user_id, form_id, form_name, ad_id, first_name, last_name, phone_number, email); did you mean 'phone_number'?")
    expect(problems(vk, call('?a={{ in.custom_0 }}&b={{ in.how_did_you_hear }}&p={{ in.phone_number }}'))).toEqual([])
    // Tilda's fields are all the form author's: nothing is known, nothing is refused.
    expect(problems('{ type: tilda, key: tilda-key-0123456789abcdef }', call('?e={{ in.Emial }}'))).toEqual([])
  })
})
