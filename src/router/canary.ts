/**
 * A progressive canary: the candidate takes steps[0]% of traffic, then each later step once
 * an interval has passed with the candidate healthy; on a breach of a rollback condition
 * (error rate, p99 latency, disagreement with the baseline on the same requests), judged
 * from live data in the current step, traffic returns to the baseline for good and the
 * event is recorded.
 *
 * The controller outlives route tables: a reload that does not change the canary keeps it
 * (and its step) going; one that changes it starts a new one.
 */
import type { CanaryConfig } from '../config/routes-schema.js'
import { WeightedPick } from './weighted-pick.js'

export type CanaryStatus = 'progressing' | 'complete' | 'rolled-back'

export interface CanaryEvent {
  readonly at: string
  readonly kind: 'started' | 'step' | 'complete' | 'rolled-back'
  readonly percent: number
  readonly detail: string
}

const DEFAULT_MIN_REQUESTS = 20 // candidate answers in a step before rollback conditions are judged
const MAX_LATENCIES = 5_000 // latencies kept per step for the p99

export function parseIntervalMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text)
  if (m === null) throw new Error(`bad interval '${text}'`)
  const n = Number(m[1])
  return n * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']
}

export class CanaryController {
  readonly model: string
  readonly config: CanaryConfig
  /** Identifies the config this controller runs; a reload with the same key keeps it. */
  readonly key: string
  readonly #intervalMs: number
  readonly #now: () => number
  #status: CanaryStatus = 'progressing'
  #step = 0
  #stepStartedMs: number
  readonly #picks = new Map<number, WeightedPick>()
  readonly events: CanaryEvent[] = []
  /** Told of each event after the canary is in force (routes-holder.ts). */
  onEvent: ((event: CanaryEvent) => void) | null = null
  // live data of the current step
  #requests = 0
  #errors = 0
  #compared = 0
  #disagreed = 0
  #latencies: number[] = []

  constructor(model: string, config: CanaryConfig, now: () => number = Date.now) {
    this.model = model
    this.config = config
    this.key = canaryKey(model, config)
    this.#intervalMs = parseIntervalMs(config.interval)
    this.#now = now
    this.#stepStartedMs = now()
    this.#record('started', `candidate ${config.candidate} at ${this.percent}% of traffic, baseline ${config.baseline}`)
  }

  get status(): CanaryStatus {
    return this.#status
  }

  /** The candidate's share of traffic now, in percent. */
  get percent(): number {
    return this.#status === 'rolled-back' ? 0 : this.config.steps[this.#step]
  }

  get step(): number {
    return this.#step
  }

  pick(bucket: number | null): { version: string; isCandidate: boolean } {
    const p = this.percent
    let pick = this.#picks.get(p)
    if (pick === undefined) {
      pick = new WeightedPick({ [this.config.baseline]: 100 - p, [this.config.candidate]: p })
      this.#picks.set(p, pick)
    }
    const version = pick.pick(bucket)
    return { version, isCandidate: version === this.config.candidate }
  }

  /** A candidate answer: whether it failed and how long it took. */
  observeCandidate(isError: boolean, latencyMs: number): void {
    if (this.#status !== 'progressing') return
    this.#requests++
    if (isError) this.#errors++
    if (this.#latencies.length < MAX_LATENCIES) this.#latencies.push(latencyMs)
    this.#judge()
  }

  /** The baseline scored the same request as the candidate: did they agree? */
  observeComparison(agreed: boolean): void {
    if (this.#status !== 'progressing') return
    this.#compared++
    if (!agreed) this.#disagreed++
    this.#judge()
  }

  /** Called on a timer: advance a step when the interval has passed with the candidate healthy. */
  tick(): void {
    if (this.#status !== 'progressing') return
    if (this.#judge()) return
    if (this.#now() - this.#stepStartedMs < this.#intervalMs) return
    if (this.#step + 1 >= this.config.steps.length) {
      this.#status = 'complete'
      this.#record('complete', `candidate ${this.config.candidate} holds ${this.percent}% of traffic`)
      return
    }
    this.#step++
    this.#resetStep()
    this.#record('step', `candidate ${this.config.candidate} now at ${this.percent}%`)
  }

  /** Roll back on a breach; returns true when it did. */
  #judge(): boolean {
    const rollback = this.config.rollback
    if (rollback === undefined || this.#requests < (rollback.min_requests ?? DEFAULT_MIN_REQUESTS)) return false
    const errorRate = this.#errors / this.#requests
    if (rollback.error_rate !== undefined && errorRate > rollback.error_rate) {
      return this.#rollBack(`error rate ${errorRate.toFixed(3)} > ${rollback.error_rate} over ${this.#requests} requests`)
    }
    const p99 = percentile(this.#latencies, 0.99)
    if (rollback.p99_ms !== undefined && p99 > rollback.p99_ms) {
      return this.#rollBack(`p99 latency ${p99.toFixed(1)} ms > ${rollback.p99_ms} ms over ${this.#requests} requests`)
    }
    if (rollback.disagreement !== undefined && this.#compared >= (rollback.min_requests ?? DEFAULT_MIN_REQUESTS)) {
      const disagreement = this.#disagreed / this.#compared
      if (disagreement > rollback.disagreement) {
        return this.#rollBack(`disagreement with ${this.config.baseline} ${disagreement.toFixed(3)} > ${rollback.disagreement} over ${this.#compared} compared requests`)
      }
    }
    return false
  }

  #rollBack(reason: string): true {
    const from = this.percent
    this.#status = 'rolled-back'
    this.#record('rolled-back', `${reason}; traffic returned to ${this.config.baseline} (candidate was at ${from}%)`)
    return true
  }

  #resetStep(): void {
    this.#stepStartedMs = this.#now()
    this.#requests = 0
    this.#errors = 0
    this.#compared = 0
    this.#disagreed = 0
    this.#latencies = []
  }

  #record(kind: CanaryEvent['kind'], detail: string): void {
    const event: CanaryEvent = { at: new Date(this.#now()).toISOString(), kind, percent: this.percent, detail }
    this.events.push(event)
    this.onEvent?.(event)
  }

  describe() {
    return {
      baseline: this.config.baseline,
      candidate: this.config.candidate,
      status: this.#status,
      step: this.#step,
      percent: this.percent,
      steps: this.config.steps,
      current: { requests: this.#requests, errors: this.#errors, compared: this.#compared, disagreed: this.#disagreed, p99_ms: percentile(this.#latencies, 0.99) },
      events: this.events,
    }
  }
}

export function canaryKey(model: string, config: CanaryConfig): string {
  return `${model}\u0000${JSON.stringify(config)}`
}

function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}
