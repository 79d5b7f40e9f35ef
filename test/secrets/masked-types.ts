/**
 * Compiled by `tsc --noEmit` in `npm test`: each line marked @ts-expect-error must NOT compile,
 * or tsc fails ("unused directive"). It proves an output cannot be handed an unmasked value, a
 * masked value rebuilt by spreading, or one changed after masking.
 */
import type { SentAnswer } from '../../src/journal/runs.js'
import { Masker, type Masked } from '../../src/secrets/masker.js'

declare function output(answer: Masked<SentAnswer>): void
declare function text(line: Masked<string>): void

const mask = new Masker(['a-secret-value'])
const masked = mask.value<SentAnswer>({ status: 200, headers: {}, body: 'a-secret-value' })
output(masked)
text(mask.text('a-secret-value'))

// @ts-expect-error an unmasked answer
output({ status: 200, headers: {}, body: 'a-secret-value' })
// @ts-expect-error a masked answer rebuilt with an unmasked body
output({ ...masked, body: 'a-secret-value' })
// @ts-expect-error a masked answer changed after masking
masked.body = 'a-secret-value'
// @ts-expect-error a nested part changed after masking
masked.headers['x-token'] = 'a-secret-value'
// @ts-expect-error plain text
text('a-secret-value')
// @ts-expect-error masked text with unmasked text added
text(`${mask.text('x')} a-secret-value`)
