/**
 * GET /metrics: what the relay did, in the Prometheus text format (prom-client), behind the
 * journal token. Counters and histograms are fed where things happen (runs and steps end,
 * answers go out, unknown URLs come in, the writer commits); queue depths and letters waiting
 * are read when scraped. Labels are pipeline ids, statuses, step types and status codes: never
 * anything a sender chose, so a scanner cannot grow the label sets.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** Why a request to /hooks/ found no pipeline: an id not in the config, or a wrong key. */
export type Miss = 'unknown_pipeline' | 'wrong_key' | 'other'

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const COMMIT_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

export class Metrics {
  readonly registry = new Registry()
  readonly #runs = new Counter({ name: 'hookrelay_runs_total', help: 'Runs kept, by pipeline and the status they ended with.', labelNames: ['pipeline', 'status'], registers: [this.registry] })
  readonly #runSeconds = new Histogram({ name: 'hookrelay_run_duration_seconds', help: 'How long runs took, from receipt to their end.', labelNames: ['pipeline'], buckets: SECONDS, registers: [this.registry] })
  readonly #stepSeconds = new Histogram({ name: 'hookrelay_step_duration_seconds', help: 'How long steps took, by action type and status.', labelNames: ['type', 'status'], buckets: SECONDS, registers: [this.registry] })
  readonly #answers = new Counter({ name: 'hookrelay_answers_total', help: 'Answers to requests under /hooks/, by HTTP status code.', labelNames: ['code'], registers: [this.registry] })
  readonly #misses = new Counter({ name: 'hookrelay_not_found_total', help: 'Requests under /hooks/ that found no pipeline: an unknown id or a wrong key.', labelNames: ['reason'], registers: [this.registry] })
  readonly #commitSeconds = new Histogram({ name: 'hookrelay_journal_commit_seconds', help: 'From handing writes to the journal writer to their commit.', buckets: COMMIT_SECONDS, registers: [this.registry] })

  /** `read` answers the gauges read at scrape time (the writer's queue, the letters waiting). */
  constructor(read: { pendingWrites(): number; lettersWaiting(): number }) {
    new Gauge({ name: 'hookrelay_journal_queue_depth', help: 'Writes waiting for the journal writer (queued or being committed).', registers: [this.registry], collect() {
      this.set(read.pendingWrites())
    } })
    new Gauge({ name: 'hookrelay_letters_waiting', help: 'Failure letters not yet accepted by the SMTP server, and failures waiting for their letter.', registers: [this.registry], collect() {
      this.set(read.lettersWaiting())
    } })
  }

  runEnded(pipeline: string, status: string, durationMs: number | undefined): void {
    this.#runs.inc({ pipeline, status })
    if (durationMs !== undefined) this.#runSeconds.observe({ pipeline }, durationMs / 1000)
  }

  stepEnded(type: string, status: string, durationMs: number): void {
    this.#stepSeconds.observe({ type, status }, durationMs / 1000)
  }

  answered(code: number): void {
    this.#answers.inc({ code: String(code) })
  }

  missed(reason: Miss): void {
    this.#misses.inc({ reason })
  }

  committed(ms: number): void {
    this.#commitSeconds.observe(ms / 1000)
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
