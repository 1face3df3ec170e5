/**
 * The drift gauge's figures: every minute, for each version with a reference profile, PSI per
 * feature and for the score over the last hour, against its profile. The queries run on the
 * store worker (a store call, like any other); the request thread only posts the calls and
 * keeps the answers, which the gauge reads at scrape time (metrics.ts driftSource).
 *
 * The hour is whole minutes, so it is read from the drift rollups (drift-rollups.ts): a few
 * rows a minute. While a version's rollups are rebuilt after a new profile, its hour is counted
 * from the records (15 s of the store worker at 100 records a second on SQLite, npm run
 * bench:drift), once a minute until the rebuild is done. The hour ends a minute or two before
 * the refresh: records of other replicas, or with a caller's time, may come late.
 */
import type { Logger } from '../log.js'
import type { StoreCalls } from '../store/store-client.js'
import { buildDriftReport } from './drift.js'
import { MINUTE_MS } from './drift-sql.js'
import { DRIFT_OPERATIONS } from './registry.js'

export const DRIFT_REFRESH_MS = 60_000 // 1 min
export const DRIFT_GAUGE_WINDOW_MS = 3_600_000 // 1 h: the records the gauge measures
export const DRIFT_GAUGE_LAG_MS = 60_000 // the hour ends a minute or two before the refresh: late records still count

export interface DriftPsi {
  readonly model: string
  readonly version: string
  readonly feature: string
  readonly psi: number
}

export interface DriftMonitorOptions {
  readonly store: StoreCalls
  /** The models served here and their PSI threshold; versions of other models are left out. */
  readonly thresholdOf: (model: string) => number | undefined
  readonly log: Logger
}

export class DriftMonitor {
  readonly #o: DriftMonitorOptions
  #latest: readonly DriftPsi[] = []
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #failing = false

  constructor(options: DriftMonitorOptions) {
    this.#o = options
  }

  /** The figures of the last refresh. */
  get latest(): readonly DriftPsi[] {
    return this.#latest
  }

  start(everyMs = DRIFT_REFRESH_MS): void {
    if (!this.#o.store.isEnabled || this.#timer !== null) return
    this.#timer = setInterval(() => void this.refresh(), everyMs).unref()
  }

  /** Measure now; a refresh still running is waited for instead of started twice. */
  refresh(now = Date.now()): Promise<void> {
    this.#running ??= this.#measure(now).finally(() => (this.#running = null))
    return this.#running
  }

  async #measure(now: number): Promise<void> {
    const until = Math.floor((now - DRIFT_GAUGE_LAG_MS) / MINUTE_MS) * MINUTE_MS
    const since = until - DRIFT_GAUGE_WINDOW_MS
    try {
      const figures: DriftPsi[] = []
      for (const { model, version } of await this.#o.store.runInBackground(DRIFT_OPERATIONS.listProfiles)) {
        const psiThreshold = this.#o.thresholdOf(model)
        if (psiThreshold === undefined) continue
        const reference = { kind: 'profile', version } as const
        const raw = await this.#o.store.runInBackground(DRIFT_OPERATIONS.raw, { model, version, since, until, reference })
        const report = buildDriftReport(raw, { model, version, since, until, reference, psiThreshold })
        for (const f of [...report.features, ...(report.score === null ? [] : [report.score])]) {
          if (f.psi !== null) figures.push({ model, version, feature: f.feature, psi: f.psi })
        }
      }
      this.#latest = figures
      this.#failing = false
    } catch (err) {
      // the store is down or a profile went bad: the gauge keeps its last figures, logged once
      if (!this.#failing) this.#o.log.warn('the drift gauge could not be refreshed; it shows the last figures', { err: String((err as Error)?.message ?? err) })
      this.#failing = true
    }
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#running
  }
}
