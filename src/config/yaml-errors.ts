/**
 * A YAML syntax error as one message: where (file:line:col and the key path around it), what,
 * and what to do. One mistake (an unclosed quote, a line indented one space off) makes the YAML
 * parser complain about everything after it; only the first complaint is the mistake, so only it
 * is told, with a count of the echoes.
 */
import type { LineCounter, YAMLError } from 'yaml'

export function describeYamlErrors(errors: readonly YAMLError[], text: string, lines: LineCounter, file: string): string {
  const first = [...errors].sort((a, b) => a.pos[0] - b.pos[0])[0]!
  const source = text.split(/\r?\n/)
  let { line, col } = lines.linePos(first.pos[0])
  const message = first.message.split('\n')[0]!
  let what: string
  if (first.code === 'MISSING_CHAR' && /closing ["']?quote/i.test(message)) {
    const quote = message.includes("'") ? "'" : '"'
    const opened = unclosedQuote(source, quote, line)
    if (opened) ({ line, col } = opened)
    what = `this value's ${quote === '"' ? 'double' : 'single'} quote is never closed: add the closing ${quote} at the end of the value`
  } else if (/end with an? ([}\]])/.test(message)) {
    const close = /end with an? ([}\]])/.exec(message)![1]!
    const open = close === '}' ? '{' : '['
    const opened = unclosedBracket(source, open, close, line)
    if (opened) ({ line, col } = opened)
    what = `this ${open} is never closed: add the ${close} at the end of the line`
  } else if (first.code === 'MISSING_CHAR' && /without - indicator/.test(message)) {
    what = 'this line is indented differently from the lines above it: the keys of one map must start in the same column'
  } else if (first.code === 'TAB_AS_INDENT') {
    what = 'this line is indented with a tab: YAML indents with spaces only'
  } else if (first.code === 'BAD_INDENT') {
    what = "wrong indentation: the keys of one map start in the same column, and a key's contents are indented under it"
  } else if (first.code === 'DUPLICATE_KEY') {
    what = 'this key appears twice in the same map: keep one of them'
  } else if (first.code === 'BLOCK_AS_IMPLICIT_KEY' || first.code === 'MULTILINE_IMPLICIT_KEY') {
    what = /:\s.*:\s/.test(source[line - 1] ?? '')
      ? 'this value contains ": ", which YAML reads as a new key: put the whole value in quotes'
      : 'this line is not a "key: value" pair: check the colon after the key and the indentation'
  } else if (/\{[^}]*\$\{/.test(source[line - 1] ?? '')) {
    what = 'an unquoted ${NAME} inside { ... } is read as YAML: put it in quotes ("${NAME}"), or write the map one key per line'
  } else if (first.code === 'MISSING_CHAR') {
    what = `${message}: a bracket or brace opened above is not closed`
  } else {
    what = `${message}: a quote, bracket, colon or dash is probably missing or extra here`
  }
  const path = pathAt(source, line)
  const echoes = errors.length - 1
  const tail = echoes > 0 ? ` (fix this first: the ${echoes} other complaint${echoes === 1 ? '' : 's'} the YAML parser has after it most likely come from it)` : ''
  return `${file}:${line}:${col}${path ? ` ${path}` : ''}: ${what}${tail}`
}

/** The line and column of the quote that opens the value still open at `before`, if it can be seen. */
function unclosedQuote(source: string[], quote: string, before: number): { line: number; col: number } | undefined {
  let open: { line: number; col: number } | undefined
  for (let i = 0; i < Math.min(before, source.length); i++) {
    const text = source[i]!
    for (let c = 0; c < text.length; c++) {
      const ch = text[c]
      if (!open && ch === '#' && (c === 0 || /\s/.test(text[c - 1]!))) break // a comment
      if (ch === '\\' && open && quote === '"') {
        c++
        continue
      }
      if (ch !== quote) continue
      if (open && quote === "'" && text[c + 1] === "'") {
        c++ // '' is an escaped quote
        continue
      }
      open = open ? undefined : { line: i + 1, col: c + 1 }
    }
  }
  return open
}

/** The last line up to `before` where `open` outnumbers `close`: where the unclosed bracket is. */
function unclosedBracket(source: string[], open: string, close: string, before: number): { line: number; col: number } | undefined {
  for (let i = Math.min(before, source.length) - 1; i >= 0; i--) {
    const text = source[i]!
    if ([...text].filter((c) => c === open).length > [...text].filter((c) => c === close).length) return { line: i + 1, col: text.lastIndexOf(open) + 1 }
  }
  return undefined
}

const KEY = /^(\s*)(?:-\s+)?([^\s#'"{[\-][^:#]*?|"[^"]*"|'[^']*'):(?:\s|$)/
const ITEM = /^(\s*)-(?:\s|$)/

/** The key path of line `at` (1-based), from the keys and list items above it: `pipelines[1].actions[0].url`. */
export function pathAt(source: string[], at: number): string {
  const parts: string[] = []
  const own = KEY.exec(source[at - 1] ?? '')
  let indent = indentOf(source[at - 1] ?? '')
  if (own) {
    const item = ITEM.exec(source[at - 1]!)
    if (item) {
      parts.unshift(`${unquote(own[2]!)}`)
      parts.unshift(`[${itemIndex(source, at - 1, item[1]!.length)}]`)
      indent = item[1]!.length
    } else parts.unshift(unquote(own[2]!))
  }
  for (let i = at - 2; i >= 0 && indent > 0; i--) {
    const text = source[i]!
    if (text.trim() === '' || text.trim().startsWith('#')) continue
    const ind = indentOf(text)
    if (ind >= indent) continue
    const item = ITEM.exec(text)
    if (item && item[1]!.length < indent) {
      parts.unshift(`[${itemIndex(source, i, item[1]!.length)}]`)
      indent = item[1]!.length
      continue
    }
    const key = KEY.exec(text)
    if (key) {
      parts.unshift(unquote(key[2]!))
      indent = ind
    }
  }
  return parts.join('.').replaceAll('.[', '[')
}

/** Which item of its list the `- ` at line index `i` (indent `d`) is. */
function itemIndex(source: string[], i: number, d: number): number {
  let n = 0
  for (let j = i - 1; j >= 0; j--) {
    const text = source[j]!
    if (text.trim() === '' || text.trim().startsWith('#')) continue
    const ind = indentOf(text)
    if (ind < d || (ind === d && !ITEM.test(text))) break
    if (ind === d) n++
  }
  return n
}

/** Leading whitespace in columns; a tab (itself a mistake here) counts as 8. */
function indentOf(text: string): number {
  return [.../^[ \t]*/.exec(text)![0]].reduce((n, ch) => n + (ch === '\t' ? 8 : 1), 0)
}

function unquote(key: string): string {
  return key.replace(/^["'](.*)["']$/, '$1').trim()
}
