/**
 * The comparison and the timeseries as the API answers them: whole minutes from the rollups
 * (store/rollups.ts), so that the time they take follows the minutes in the window, not its
 * records; a window's partial first and last minute from the records themselves, with the full
 * computation (compare-sql.ts). Equal to the full computation over the whole window (a test
 * holds them to it on both stores), sums up to the order of addition.
 */
import { sql } from '../store/operation.js'
import type { Operation } from '../store/operation.js'
import { keyText, MINUTE_MS, SCORE_BINS_A_ROW, TABLES } from '../store/rollups.js'
import { compareAggregates, numericRows, timeseriesFromRecords } from './compare-sql.js'
import type { CompareFilter, CompareRaw, TimeseriesRow } from './compare-sql.js'

/** The window's whole minutes (null: none) and its partial minutes at either end. */
export function splitWindow(f: CompareFilter): { readonly minutes: CompareFilter | null; readonly edges: readonly CompareFilter[] } {
  const first = f.since === undefined ? undefined : Math.ceil(f.since / MINUTE_MS) * MINUTE_MS
  const last = f.until === undefined ? undefined : Math.floor(f.until / MINUTE_MS) * MINUTE_MS
  if (first !== undefined && last !== undefined && first >= last) return { minutes: null, edges: [f] }
  const edges: CompareFilter[] = []
  if (f.since !== undefined && f.since < first!) edges.push({ model: f.model, since: f.since, until: first })
  if (f.until !== undefined && last! < f.until) edges.push({ model: f.model, since: last, until: f.until })
  return { minutes: { model: f.model, since: first, until: last }, edges }
}

/** `model = ? AND minute >= ? AND minute < ?` for whole minutes, with its parameters. */
function minutesWhere(f: CompareFilter): { where: string; params: unknown[] } {
  const parts = ['model = ?']
  const params: unknown[] = [f.model]
  if (f.since !== undefined) parts.push('minute >= ?'), params.push(f.since)
  if (f.until !== undefined) parts.push('minute < ?'), params.push(f.until)
  return { where: parts.join(' AND '), params }
}

type Row = Record<string, unknown>

function* fromRollups(f: CompareFilter): Operation<CompareRaw> {
  const { where, params } = minutesWhere(f)
  const traffic: Row[] = yield sql(`SELECT version, role, ok, bucket, sum(n) AS n, sum(scored) AS scored, sum(score_sum) AS score_sum, sum(latency_sum) AS latency_sum
    FROM ${TABLES.latency.name} WHERE ${where} GROUP BY 1, 2, 3, 4`, ...params)
  const predictions: Row[] = yield sql(`SELECT version, role, predicted, bin, sum(n) AS n FROM ${TABLES.predictions.name} WHERE ${where} GROUP BY 1, 2, 3, 4`, ...params)
  const outcomeSums = TABLES.outcomes.sums.map(([c]) => `sum(${c}) AS ${c}`).join(', ')
  // a truth replaced leaves its old rows at zero
  const judged: Row[] = yield sql(`SELECT version, role, truth, predicted, ${outcomeSums}
    FROM ${TABLES.outcomes.name} WHERE ${where} GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0`, ...params)
  const scoreColumns = TABLES.scores.sums.map(([c]) => c)
  const scores: Row[] = yield sql(`SELECT version, role, chunk, ${scoreColumns.map((c) => `sum(${c}) AS ${c}`).join(', ')}
    FROM ${TABLES.scores.name} WHERE ${where} GROUP BY 1, 2, 3`, ...params)
  const agreement: Row[] = yield sql(`SELECT version, role, sum(compared) AS compared, sum(agreed) AS agreed FROM ${TABLES.agreement.name} WHERE ${where} GROUP BY 1, 2`, ...params)
  return {
    traffic: numericRows(traffic),
    predictions: numericRows<Row>(predictions).map((r) => ({
      version: r.version as string, role: r.role as string, predicted: keyText(r.predicted as string), bin: r.bin === -1 ? null : (r.bin as number), n: r.n as number,
    })),
    judged: numericRows<CompareRaw['judged'][number]>(judged).map((r) => ({ ...r, truth: keyText(r.truth!), predicted: keyText(r.predicted!) })),
    scores: numericRows<Row>(scores).flatMap((r) => Array.from({ length: SCORE_BINS_A_ROW }, (_, k) => ({
      version: r.version as string, role: r.role as string, bin: (r.chunk as number) * SCORE_BINS_A_ROW + k, positives: r[`pos${k}`] as number, negatives: r[`neg${k}`] as number,
    })).filter((s) => s.positives !== 0 || s.negatives !== 0)),
    agreement: numericRows(agreement),
  }
}

/** The comparison's aggregates over a window (registry.ts): whole minutes from the rollups, partial ones from the records. */
export function* compareFromRollups(f: CompareFilter): Operation<CompareRaw> {
  const { minutes, edges } = splitWindow(f)
  const parts: CompareRaw[] = []
  if (minutes !== null) parts.push(yield* fromRollups(minutes))
  for (const edge of edges) parts.push(yield* compareAggregates(edge))
  return {
    traffic: parts.flatMap((p) => p.traffic),
    predictions: parts.flatMap((p) => p.predictions),
    judged: parts.flatMap((p) => p.judged),
    scores: parts.flatMap((p) => p.scores),
    agreement: parts.flatMap((p) => p.agreement),
  }
}

/**
 * Requests, errors and latency per version, role and time bucket. A bucket of whole minutes
 * comes from the rollups (and the window's partial minutes from the records); any other
 * bucket, which only a short window asks for, from the records.
 */
export function* timeseries(f: CompareFilter, bucketMs: number): Operation<TimeseriesRow[]> {
  const bucket = Math.max(1, Math.round(bucketMs))
  if (bucket % MINUTE_MS !== 0) return yield* timeseriesFromRecords(f, bucket)
  const { minutes, edges } = splitWindow(f)
  const rows: TimeseriesRow[] = []
  if (minutes !== null) {
    const { where, params } = minutesWhere(minutes)
    rows.push(...numericRows<TimeseriesRow>(yield sql(`SELECT version, role, (minute / ${bucket}) * ${bucket} AS t, sum(n) AS requests,
        sum(CASE WHEN ok = 0 THEN n ELSE 0 END) AS errors, sum(latency_sum) AS latency_sum
      FROM ${TABLES.latency.name} WHERE ${where} GROUP BY 1, 2, 3`, ...params)))
  }
  for (const edge of edges) rows.push(...(yield* timeseriesFromRecords(edge, bucket)))
  const points = new Map<string, TimeseriesRow>()
  for (const r of rows) {
    const k = `${r.t}\u0000${r.version}\u0000${r.role}`
    const p = points.get(k)
    points.set(k, p === undefined ? r : { ...p, requests: p.requests + r.requests, errors: p.errors + r.errors, latency_sum: p.latency_sum + r.latency_sum })
  }
  const order = (a: TimeseriesRow, b: TimeseriesRow) => a.t - b.t || (a.version < b.version ? -1 : a.version > b.version ? 1 : 0) || (a.role < b.role ? -1 : a.role > b.role ? 1 : 0)
  return [...points.values()].sort(order)
}
