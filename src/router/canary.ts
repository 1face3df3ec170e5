/**
 * A progressive canary: the candidate takes steps[0]% of traffic, then each later step once
 * an interval has passed with the candidate healthy and seen by at least its minimum of
 * requests; on a breach of a rollback condition (error rate, p99 latency, disagreement with
 * the baseline on the same requests), judged from live data in the current step, traffic
 * returns to the baseline for good and the event is recorded. A step that has not seen its
 * minimum of requests is not judged at all: it waits (status 'halted') and says so, as
 * Flagger halts a canary that has no metrics (issue #17: an idle replica stepped to 100 %).
 *
 * The judgement is one pure function (judgeStep) over a step's counts. Without a store, this
 * process judges its own counts (tick). With one, the controller follows the state in the
 * store (follow) and hands its counts to the replica that holds the judge's lease
 * (canaries.ts), which judges every replica's counts together.
 *
 * The controller outlives route tables: a reload that does not change the canary keeps it
 * (and its step) going; one that changes it starts a new one.
 */
import { createHash } from 'node:crypto'
import type { CanaryConfig } from '../config/routes-schema.js'
import type { CanaryEvent, CanaryState, CanaryStatus, StepCounts } from '../store/canary-state.js'
import { WeightedPick } from './weighted-pick.js'

export type { CanaryEvent, CanaryState, CanaryStatus, StepCounts } from '../store/canary-state.js'

export type Verdict =
  | { readonly kind: 'stay' }
  | { readonly kind: 'halted' | 'step' | 'complete' | 'rolled-back'; readonly detail: string }

export const DEFAULT_MIN_REQUESTS = 20 // candidate answers a step must see before it is judged (rollback.min_requests)
const MAX_LATENCIES = 5_000 // latencies kept per step for the p99
const STAY: Verdict = Object.freeze({ kind: 'stay' })

export function parseIntervalMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text)
  if (m === null) throw new Error(`bad interval '${text}'`)
  const n = Number(m[1])
  return n * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']
}

export const minRequestsOf = (config: CanaryConfig): number => config.rollback?.min_requests ?? DEFAULT_MIN_REQUESTS

export const percentAt = (config: CanaryConfig, state: Pick<CanaryState, 'status' | 'step'>): number =>
  (state.status === 'rolled-back' ? 0 : config.steps[state.step])

/** The state a canary starts in. */
export function startState(config: CanaryConfig, nowMs: number): CanaryState {
  const event = { at: new Date(nowMs).toISOString(), kind: 'started' as const, percent: config.steps[0], detail: `candidate ${config.candidate} at ${config.steps[0]}% of traffic, baseline ${config.baseline}` }
  return { step: 0, status: 'progressing', stepStartedMs: nowMs, events: [event] }
}

/**
 * What a step's counts say now: roll back on a breach, step (or complete) once the interval
 * has passed, wait while the step has seen fewer than its minimum of requests.
 */
export function judgeStep(config: CanaryConfig, state: CanaryState, counts: StepCounts, nowMs: number): Verdict {
  if (state.status !== 'progressing' && state.status !== 'halted') return STAY
  const min = minRequestsOf(config)
  const percent = percentAt(config, state)
  if (counts.requests >= min) {
    const breach = breachOf(config, counts, min)
    if (breach !== null) return { kind: 'rolled-back', detail: `${breach}; traffic returned to ${config.baseline} (candidate was at ${percent}%)` }
  }
  if (nowMs - state.stepStartedMs < parseIntervalMs(config.interval)) return STAY
  if (counts.requests < min) {
    if (state.status === 'halted') return STAY // said once a step
    return { kind: 'halted', detail: `step ${state.step + 1} of ${config.steps.length} (${percent}%) waits for traffic: ${counts.requests} of ${min} candidate requests; it is judged once it has seen them` }
  }
  if (state.step + 1 >= config.steps.length) return { kind: 'complete', detail: `candidate ${config.candidate} holds ${percent}% of traffic` }
  return { kind: 'step', detail: `candidate ${config.candidate} now at ${config.steps[state.step + 1]}% after ${counts.requests} healthy requests` }
}

function breachOf(config: CanaryConfig, c: StepCounts, min: number): string | null {
  const rollback = config.rollback
  if (rollback === undefined) return null
  const errorRate = c.errors / c.requests
  if (rollback.error_rate !== undefined && errorRate > rollback.error_rate) return `error rate ${errorRate.toFixed(3)} > ${rollback.error_rate} over ${c.requests} requests`
  // the p99 (sorted[ceil(0.99 n) - 1]) is over the limit exactly when more than n - ceil(0.99 n) answers are
  if (rollback.p99_ms !== undefined && c.slow > c.requests - Math.ceil(0.99 * c.requests)) {
    return `p99 latency ${c.p99Ms.toFixed(1)} ms > ${rollback.p99_ms} ms over ${c.requests} requests`
  }
  if (rollback.disagreement !== undefined && c.compared >= min) {
    const disagreement = c.disagreed / c.compared
    if (disagreement > rollback.disagreement) return `disagreement with ${config.baseline} ${disagreement.toFixed(3)} > ${rollback.disagreement} over ${c.compared} compared requests`
  }
  return null
}

/** The state after a verdict other than 'stay', its event appended. */
export function applyVerdict(config: CanaryConfig, state: CanaryState, verdict: Exclude<Verdict, { kind: 'stay' }>, nowMs: number): CanaryState {
  const next: Omit<CanaryState, 'events'> =
    verdict.kind === 'step' ? { step: state.step + 1, status: 'progressing', stepStartedMs: nowMs }
    : verdict.kind === 'halted' ? { ...state, status: 'halted' }
    : { ...state, status: verdict.kind }
  const event: CanaryEvent = { at: new Date(nowMs).toISOString(), kind: verdict.kind, percent: percentAt(config, next), detail: verdict.detail }
  return { ...next, events: [...state.events, event] }
}

export class CanaryController {
  readonly model: string
  readonly config: CanaryConfig
  /** Identifies the config this controller runs; a reload with the same key keeps it. */
  readonly key: string
  readonly #now: () => number
  #state: CanaryState
  readonly #picks = new Map<number, WeightedPick>()
  /** Told of each event this process decides (routes-holder.ts): not of those it follows from the store. */
  onEvent: ((event: CanaryEvent) => void) | null = null
  readonly #isStored: boolean
  /** What the store said last: every replica's counts of the step, and who judges them. */
  #stored: { totals: StepCounts; judge: string | null } | null = null
  // this process's live data of the current step
  #requests = 0
  #errors = 0
  #slow = 0
  #compared = 0
  #disagreed = 0
  #latencies: number[] = []

  /** `isStored`: judged by the holder of the store's lease (canaries.ts), never by this process alone. */
  constructor(model: string, config: CanaryConfig, options: { now?: () => number; isStored?: boolean } = {}) {
    this.model = model
    this.config = config
    this.key = canaryKey(model, config)
    this.#now = options.now ?? Date.now
    this.#isStored = options.isStored ?? false
    this.#state = startState(config, this.#now())
  }

  get status(): CanaryStatus {
    return this.#state.status
  }

  /** The candidate's share of traffic now, in percent. */
  get percent(): number {
    return percentAt(this.config, this.#state)
  }

  get step(): number {
    return this.#state.step
  }

  get events(): readonly CanaryEvent[] {
    return this.#state.events
  }

  get state(): CanaryState {
    return this.#state
  }

  get isStored(): boolean {
    return this.#isStored
  }

  /** Whether a judge still has something to decide. */
  get isActive(): boolean {
    return this.#state.status === 'progressing' || this.#state.status === 'halted'
  }

  /** Decided for good, as the store said: nothing left to follow. */
  get isSettled(): boolean {
    return this.#stored !== null && !this.isActive
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
    if (!this.isActive) return
    this.#requests++
    if (isError) this.#errors++
    if (latencyMs > (this.config.rollback?.p99_ms ?? Infinity)) this.#slow++
    if (this.#latencies.length < MAX_LATENCIES) this.#latencies.push(latencyMs)
    this.#judgeBreach()
  }

  /** The baseline scored the same request as the candidate: did they agree? */
  observeComparison(agreed: boolean): void {
    if (!this.isActive) return
    this.#compared++
    if (!agreed) this.#disagreed++
    this.#judgeBreach()
  }

  /** This process's counts of the step it routes at now; `withP99: false` skips the sort (p99Ms 0), which only a breach's message needs. */
  localCounts(withP99 = true): StepCounts {
    const p99Ms = withP99 ? percentile(this.#latencies, 0.99) : 0
    return { requests: this.#requests, errors: this.#errors, slow: this.#slow, compared: this.#compared, disagreed: this.#disagreed, p99Ms }
  }

  /** Without a store, on a timer: advance a step when it is due (with a store, canaries.ts judges). */
  tick(): void {
    if (!this.#isStored) this.#judge(judgeStep(this.config, this.#state, this.localCounts(), this.#now()))
  }

  /** A breach rolls back at once; without a store only (the judge reads every replica's counts each second). */
  #judgeBreach(): void {
    if (this.#isStored) return
    // every candidate answer comes here: the breach is decided on counts alone (slow answers, not
    // the p99), and the latencies are sorted only for the message of a breach found
    if (judgeStep(this.config, this.#state, this.localCounts(false), this.#now()).kind !== 'rolled-back') return
    this.#judge(judgeStep(this.config, this.#state, this.localCounts(), this.#now()))
  }

  #judge(verdict: Verdict): void {
    if (verdict.kind === 'stay') return
    const next = applyVerdict(this.config, this.#state, verdict, this.#now())
    this.#adopt(next)
    this.onEvent?.(next.events[next.events.length - 1])
  }

  /**
   * The state in the store (every replica's), the step's counts summed over the replicas, and
   * the replica that holds the judge's lease: followed within REVISION_POLL_MS.
   */
  follow(state: CanaryState, totals: StepCounts, judge: string | null): void {
    if (state.events.length < this.#state.events.length) return // a read from before the judge's last write: events only grow
    this.#stored = { totals, judge }
    this.#adopt(state)
  }

  #adopt(state: CanaryState): void {
    if (state.step !== this.#state.step) this.#resetStep()
    this.#state = state
  }

  #resetStep(): void {
    this.#requests = 0
    this.#errors = 0
    this.#slow = 0
    this.#compared = 0
    this.#disagreed = 0
    this.#latencies = []
  }

  describe() {
    const current = this.#stored?.totals ?? this.localCounts()
    return {
      baseline: this.config.baseline,
      candidate: this.config.candidate,
      status: this.#state.status,
      step: this.#state.step,
      percent: this.percent,
      steps: this.config.steps,
      step_started_at: new Date(this.#state.stepStartedMs).toISOString(),
      min_requests: minRequestsOf(this.config),
      // 'store': one replica at a time judges every replica's counts; 'process': this one alone
      judged_in: this.#isStored ? 'store' : 'process',
      judge: this.#stored?.judge ?? null,
      current: { requests: current.requests, errors: current.errors, compared: current.compared, disagreed: current.disagreed, p99_ms: current.p99Ms },
      events: this.#state.events,
    }
  }
}

/** The canary's identity, the same on every replica: its model and its settings. */
export function canaryKey(model: string, config: CanaryConfig): string {
  return createHash('sha256').update(`${model}\u0000${JSON.stringify(config)}`).digest('hex')
}

function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}
