/**
 * The comparison's aggregates, computed in the store in three GROUP BY queries over a model's
 * records in a time window, and the timeseries: store operations (store/operation.ts) that the
 * store worker runs by name (registry.ts). They return counts and sums only (a few thousand
 * rows at most, whatever the number of records); statistics.ts turns them into percentiles,
 * AUC, log loss, confidence intervals and tests. One text for both stores, up to a few
 * function names and join hints (store/dialect.ts).
 */
import { sql } from '../store/operation.js'
import type { Operation, Sql } from '../store/operation.js'
import type { Dialect } from '../store/dialect.js'
import { DISPLAY_BINS, expressions, SCORE_BINS } from '../store/rollups.js'

export interface CompareFilter {
  readonly model: string
  /** ms since the epoch, inclusive. */
  readonly since?: number
  /** ms since the epoch, exclusive. */
  readonly until?: number
}

/**
 * The comparison's aggregates: counts and sums by version and role, a few thousand rows at
 * most whatever the number of records. The same shape from the full computation and from the
 * rollups (compare-rollups.ts); rows with the same key may come more than once and are summed.
 */
export interface CompareRaw {
  /** Every record by success and latency bucket (bucket 0 for failures). */
  readonly traffic: readonly { version: string; role: string; ok: number; bucket: number; n: number; scored: number; score_sum: number; latency_sum: number }[]
  /** Answered records by predicted class (null: none) and display score bin (DISPLAY_BINS; null: no score). */
  readonly predictions: readonly { version: string; role: string; predicted: string | null; bin: number | null; n: number }[]
  /** Answered records with ground truth, by truth and predicted class. */
  readonly judged: readonly {
    version: string; role: string; truth: string | null; predicted: string | null; n: number
    /** Binary log loss over the rows with a score and a 0/1 truth, and the sum of its squares. */
    loss_n: number; loss_sum: number; loss_sq: number
    /** Regression: score minus ground-truth value. */
    err_n: number; err_abs: number; err_sq: number
  }[]
  /** The judged records with a score by score bin (SCORE_BINS): how many have a positive truth, how many not. */
  readonly scores: readonly { version: string; role: string; bin: number; positives: number; negatives: number }[]
  /** Shadows and challengers in the window against the primary of the same inference id. */
  readonly agreement: readonly { version: string; role: string; compared: number; agreed: number }[]
}

/** What the three queries of the full computation give, before compareAggregates folds them into a CompareRaw. */
interface FullRows {
  readonly stats: readonly {
    version: string; role: string; ok: number; bucket: number; predicted: string | null; bin: number | null
    n: number; scored: number; score_sum: number; latency_sum: number
  }[]
  readonly judged: readonly (CompareRaw['judged'][number] & { bin: number | null; positive: number })[]
  readonly agreement: CompareRaw['agreement']
}

type CompareQueries = Record<keyof FullRows, Sql>

/**
 * Three passes: one over the window's records (no join), one driven by the ground truth
 * (proportional to the judged cases), one driven by shadow and challenger records.
 */
function compareQueries(f: CompareFilter, d: Dialect): CompareQueries {
  // `where(alias, true)` for a join's inner side, which is looked up by inference id, not by time
  const build = (make: (where: (alias: string, isInner?: boolean) => string, p: (v: unknown) => string) => string) => {
    const params: unknown[] = []
    const p = (v: unknown) => (params.push(v), '?')
    const where = (a: string, isInner = false) => {
      const ts = isInner ? d.unindexed(`${a}.ts`) : `${a}.ts`
      const parts = [`${a}.model = ${p(f.model)}`]
      if (f.since !== undefined) parts.push(`${ts} >= ${p(f.since)}`)
      if (f.until !== undefined) parts.push(`${ts} < ${p(f.until)}`)
      return parts.join(' AND ')
    }
    return sql(make(where, p), ...params)
  }
  const e = expressions(d)
  return {
    stats: build((w) => `SELECT i.version, i.role, CASE WHEN i.status = 200 THEN 1 ELSE 0 END AS ok,
        ${e.latencyBucket} AS bucket, i.predicted_label AS predicted, ${e.scoreBin(DISPLAY_BINS)} AS bin,
        count(*) AS n, count(i.score) AS scored, coalesce(sum(i.score), 0) AS score_sum, sum(i.latency_ms) AS latency_sum
      FROM inferences i WHERE ${w('i')} GROUP BY 1, 2, 3, 4, 5, 6`),
    judged: build((w, p) => `SELECT i.version, i.role, ${e.scoreBin(SCORE_BINS)} AS bin, CASE WHEN ${e.positive} THEN 1 ELSE 0 END AS positive,
        g.label AS truth, i.predicted_label AS predicted, count(*) AS n,
        sum(CASE WHEN i.score IS NOT NULL AND ${e.binary} THEN 1 ELSE 0 END) AS loss_n,
        coalesce(sum(CASE WHEN i.score IS NOT NULL AND ${e.binary} THEN ${e.loss} END), 0) AS loss_sum,
        coalesce(sum(CASE WHEN i.score IS NOT NULL AND ${e.binary} THEN (${e.loss}) * (${e.loss}) END), 0) AS loss_sq,
        count(CASE WHEN i.score IS NOT NULL AND g.value IS NOT NULL THEN 1 END) AS err_n,
        coalesce(sum(abs(i.score - g.value)), 0) AS err_abs,
        coalesce(sum((i.score - g.value) * (i.score - g.value)), 0) AS err_sq
      FROM ground_truth g ${d.drivingJoin} inferences i ON i.model = g.model AND i.inference_id = g.inference_id
      WHERE g.model = ${p(f.model)} AND ${w('i', true)} AND i.status = 200 GROUP BY 1, 2, 3, 4, 5, 6`),
    agreement: build((w) => `SELECT m.version, m.role, count(*) AS compared,
        sum(CASE WHEN m.predicted_label = p.predicted_label THEN 1 ELSE 0 END) AS agreed
      FROM inferences m ${d.drivingJoin} inferences p ON p.model = m.model AND p.inference_id = m.inference_id AND p.role = 'primary' AND p.status = 200
      WHERE ${w('m')} AND m.role IN ('shadow', 'challenger') AND m.status = 200 GROUP BY 1, 2`),
  }
}

/**
 * The full computation, over every record of the window: the reference the rollups are held
 * to (a test, the bench), and what answers a window's partial minutes (compare-rollups.ts).
 * The three aggregates come from one snapshot (a `reads` operation, registry.ts): a record
 * written between two of them would otherwise be counted in one and not in the others.
 */
export function* compareAggregates(f: CompareFilter): Operation<CompareRaw> {
  const stats = numericRows<FullRows['stats'][number]>(yield (d) => compareQueries(f, d).stats)
  const judged = numericRows<FullRows['judged'][number]>(yield (d) => compareQueries(f, d).judged)
  const agreement = numericRows<FullRows['agreement'][number]>(yield (d) => compareQueries(f, d).agreement)
  return {
    traffic: stats.map((r) => ({ version: r.version, role: r.role, ok: r.ok, bucket: r.ok ? r.bucket : 0, n: r.n, scored: r.scored, score_sum: r.score_sum, latency_sum: r.latency_sum })),
    predictions: stats.filter((r) => r.ok).map((r) => ({ version: r.version, role: r.role, predicted: r.predicted, bin: r.bin, n: r.n })),
    judged: judged.map(({ bin: _bin, positive: _positive, ...outcome }) => outcome),
    scores: judged.filter((r) => r.bin !== null).map((r) => ({ version: r.version, role: r.role, bin: r.bin!, positives: r.positive ? r.n : 0, negatives: r.positive ? 0 : r.n })),
    agreement,
  }
}

const TEXT_COLUMNS = ['version', 'role', 'predicted', 'truth']

/** Numbers arrive as strings from PostgreSQL (count is bigint): make every aggregate a number. */
export function numericRows<T>(rows: readonly Record<string, unknown>[]): T[] {
  return rows.map((r) => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(r)) out[k] = TEXT_COLUMNS.includes(k) || v === null ? v : Number(v)
    return out as T
  })
}

export interface TimeseriesRow {
  readonly version: string
  readonly role: string
  /** The bucket's start, ms since the epoch. */
  readonly t: number
  readonly requests: number
  readonly errors: number
  readonly latency_sum: number
}

/** Requests, errors and latency per version, role and time bucket (the dashboard's charts over time), from every record of the window. */
export function* timeseriesFromRecords(f: CompareFilter, bucketMs: number): Operation<TimeseriesRow[]> {
  const params: unknown[] = []
  const p = (v: unknown) => (params.push(v), '?')
  const where = [`i.model = ${p(f.model)}`]
  if (f.since !== undefined) where.push(`i.ts >= ${p(f.since)}`)
  if (f.until !== undefined) where.push(`i.ts < ${p(f.until)}`)
  const bucket = Math.max(1, Math.round(bucketMs))
  return numericRows(yield sql(`SELECT i.version, i.role, (i.ts / ${bucket}) * ${bucket} AS t, count(*) AS requests,
        sum(CASE WHEN i.status <> 200 THEN 1 ELSE 0 END) AS errors, sum(i.latency_ms) AS latency_sum
      FROM inferences i WHERE ${where.join(' AND ')} GROUP BY 1, 2, 3 ORDER BY 3, 1, 2`, ...params))
}
