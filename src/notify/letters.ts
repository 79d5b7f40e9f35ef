/** The text of the operator's letters: one failed run in detail, or a digest of several. */
import type { FailureSummary } from './store.js'

export interface LetterContext {
  /** Where the journal API is reached, for the curl commands. */
  baseUrl: string
}

const MAX_LISTED = 50

export function composeLetter(failures: FailureSummary[], ctx: LetterContext): { subject: string; body: string } {
  return failures.length === 1 ? single(failures[0]!, ctx) : digest(failures, ctx)
}

function single(f: FailureSummary, ctx: LetterContext): { subject: string; body: string } {
  const what = f.status === 'interrupted' ? 'was interrupted' : 'failed'
  const subject = `[hookrelay] ${f.pipeline}: run ${what}${f.step ? ` at step '${f.step}'` : ''}`
  const lines = [
    `Pipeline: ${f.pipeline} (${f.pipelineName})`,
    `Run: ${f.runId}`,
    `Status: ${f.status}`,
    `Received: ${f.receivedAt}`,
    `Failed step: ${f.step ? `${f.step}${f.stepType ? ` (${f.stepType})` : ''}` : '(none: the answer itself failed)'}`,
    `Error: ${f.error}`,
  ]
  if (f.upstreamStatus !== undefined) lines.push(`Upstream status: ${f.upstreamStatus}`)
  if (f.answer) lines.push('Upstream answer (first lines):', ...f.answer.split('\n').map((l) => `  ${l}`))
  if (f.status === 'interrupted') {
    lines.push('', 'hookrelay stopped while this run was going on. It does not run it again on its own,', 'because the upstream call may already have happened. Check, then replay if needed.')
  }
  lines.push('', 'Read the run:', `  ${curl(ctx, `/journal/${f.runId}`)}`, 'Run it again once the cause is fixed:', `  npx hookrelay replay ${f.runId}`)
  return { subject, body: `${lines.join('\n')}\n` }
}

function digest(failures: FailureSummary[], ctx: LetterContext): { subject: string; body: string } {
  const pipeline = failures[0]!.pipeline
  const subject = `[hookrelay] ${pipeline}: ${failures.length} runs failed`
  const lines = [
    `Pipeline: ${pipeline} (${failures[0]!.pipelineName})`,
    `${failures.length} runs failed or were interrupted since the last letter:`,
    '',
    ...failures.slice(0, MAX_LISTED).map((f) => `  ${f.runId}  ${f.status}${f.step ? ` at '${f.step}'` : ''}: ${firstLine(f.error)}`),
  ]
  if (failures.length > MAX_LISTED) lines.push(`  ... and ${failures.length - MAX_LISTED} more`)
  lines.push('', 'Read them:', `  ${curl(ctx, `/journal?pipeline=${pipeline}&status=failed`)}`, `  ${curl(ctx, '/journal/RUN_ID')}`)
  lines.push('Run one again once the cause is fixed:', '  npx hookrelay replay RUN_ID')
  return { subject, body: `${lines.join('\n')}\n` }
}

function curl(ctx: LetterContext, path: string): string {
  return `curl -H "Authorization: Bearer $JOURNAL_TOKEN" '${ctx.baseUrl}${path}'`
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? ''
  return line.length > 200 ? `${line.slice(0, 197)}...` : line
}

/** The first lines of an upstream answer, for a letter. */
export function answerExcerpt(body: string, maxLines = 10, maxChars = 1000): string {
  const lines = body.split('\n').slice(0, maxLines).join('\n')
  return lines.length > maxChars ? `${lines.slice(0, maxChars)}...` : lines
}
