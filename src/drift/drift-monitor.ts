/**
 * The drift gauge's figures: every minute, for each version with a reference profile, PSI per
 * feature and for the score over the last hour, against its profile. The queries run on the
 * store worker (a store call, like any other); the request thread only posts the calls and
 * keeps the answers, which the gauge reads at scrape time (metrics.ts driftSource).
 */
import type { Logger } from '../log.js'
import type { StoreCalls } from '../store/store-client.js'
import { buildDriftReport, DEFAULT_PSI_THRESHOLD } from './drift.js'
import { DRIFT_OPERATIONS } from './registry.js'

export const DRIFT_REFRESH_MS = 60_000 // 1 min
export const DRIFT_GAUGE_WINDOW_MS = 3_600_000 // 1 h: the records the gauge measures

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
    try {
      const figures: DriftPsi[] = []
      for (const { model, version } of await this.#o.store.run(DRIFT_OPERATIONS.listProfiles)) {
        const psiThreshold = this.#o.thresholdOf(model)
        if (psiThreshold === undefined) continue
        const window = { model, version, since: now - DRIFT_GAUGE_WINDOW_MS, until: now, reference: { kind: 'profile' as const, version } }
        const report = buildDriftReport(await this.#o.store.run(DRIFT_OPERATIONS.raw, window), { ...window, psiThreshold })
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
