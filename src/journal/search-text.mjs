// The text a run is found by (GET /journal?q=, the journal page's search box): what the sender
// sent, decoded, so that an email sent form-encoded (`email=a%40b.ru`) or JSON-escaped is found
// as typed. The values of the query and of the body's fields (JSON leaves, form fields), or the
// body's text when it is neither; header values are left out (user agents only add noise).
// Plain JavaScript: the writer thread (sql-worker.mjs) runs it as the SQL function
// hookrelay_search_text in the trigger that fills the search index, and the main thread runs it
// to check a hit once masked (journal/runs.ts).

/** The most text kept per run: enough for any form, bounded for a megabyte body. */
const MAX_CHARS = 32_768
const MAX_DEPTH = 32

/** `requestJson`: the runs.request column (a KeptRequest as JSON). */
export function searchText(requestJson) {
  let request
  try {
    request = JSON.parse(requestJson)
  } catch {
    return ''
  }
  const parts = []
  collect(request?.query, parts, 0)
  if (typeof request?.line === 'string') parts.push(request.line)
  const raw = request?.raw
  if (typeof raw === 'string' && request.encoding !== 'base64' && raw.length > 0) {
    const body = parseJson(raw)
    if (body !== null && typeof body === 'object') collect(body, parts, 0)
    else if (FORM.test(raw)) for (const [, value] of new URLSearchParams(raw)) parts.push(value)
    else parts.push(raw)
  }
  const text = parts.join('\n')
  return text.length > MAX_CHARS ? text.slice(0, MAX_CHARS) : text
}

const FORM = /^[^=&\s]+=[^\s]*$/

function parseJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function collect(value, parts, depth) {
  if (typeof value === 'string') parts.push(value)
  else if (typeof value === 'number' || typeof value === 'boolean') parts.push(String(value))
  else if (value !== null && typeof value === 'object' && depth < MAX_DEPTH) {
    for (const item of Array.isArray(value) ? value : Object.values(value)) collect(item, parts, depth + 1)
  }
}
