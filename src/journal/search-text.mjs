// The text a run is found by (GET /journal?q=, the journal page's search box): what the sender
// sent, decoded, so that an email sent form-encoded (`email=a%40b.ru`) or JSON-escaped is found
// as typed. The values of the query and of the body's fields (JSON leaves, form fields), or the
// body's text when it is neither; header values are left out (user agents only add noise). The
// body is the one every output shows (runs.shown, when masking changed it), and values under
// secret names are left out: what is hidden is not in the index, so neither what a search finds
// nor how long it takes can tell anything about it.
// Plain JavaScript: the writer thread (sql-worker.mjs) runs it as the SQL function
// hookrelay_search_text in the trigger that fills the search index, and the main thread runs it
// to check a hit once masked (journal/runs.ts).
import { isSecretName } from '../secrets/secret-names.mjs'

// What is indexed is bounded, because indexing costs the writer thread per character (about a
// third of a microsecond with trigrams; bench/RESULTS-search.md): the first characters of each
// value, which hold any email, phone, name or order number, and a few kilobytes in all.
const MAX_VALUE_CHARS = 64
const MAX_CHARS = 4096
const MAX_DEPTH = 32

/** `requestJson`: the runs.request column (a KeptRequest as JSON); `shown`: the runs.shown column. */
export function searchText(requestJson, shown = null) {
  let request
  try {
    request = JSON.parse(requestJson)
  } catch {
    return ''
  }
  const parts = []
  const add = (value) => parts.push(value.length > MAX_VALUE_CHARS ? value.slice(0, MAX_VALUE_CHARS) : value)
  collect(request?.query, add, 0)
  if (typeof request?.line === 'string') add(request.line)
  const raw = typeof shown === 'string' ? shown : request?.raw
  if (typeof raw === 'string' && request.encoding !== 'base64' && raw.length > 0) {
    const body = parseJson(raw)
    if (body !== null && typeof body === 'object') collect(body, add, 0)
    else if (FORM.test(raw)) {
      for (const [name, value] of new URLSearchParams(raw)) if (!isSecretName(name)) add(value)
    }
    else add(raw)
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

function collect(value, add, depth) {
  if (typeof value === 'string') add(value)
  else if (typeof value === 'number' || typeof value === 'boolean') add(String(value))
  else if (value !== null && typeof value === 'object' && depth < MAX_DEPTH) {
    if (Array.isArray(value)) for (const item of value) collect(item, add, depth + 1)
    else for (const key of Object.keys(value)) if (!isSecretName(key)) collect(value[key], add, depth + 1)
  }
}
