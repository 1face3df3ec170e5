/**
 * Rollups: what the comparison and the timeseries need of the inference log, summed per model,
 * version, role and minute (the record's `ts`), kept by the store in the transaction that
 * writes the records, and by the ground-truth operation in the one that writes the truth.
 *
 *   rollup_latency      by success and latency bucket: requests, latency and score sums
 *   rollup_predictions  answered records by predicted class and display score bin
 *   rollup_outcomes     answered records with ground truth by truth and predicted class:
 *                       counts, log loss and regression error sums
 *   rollup_scores       the same records by score bin (SCORE_BINS) and truth, positive or not,
 *                       SCORE_BINS_A_ROW bins a row (pos0.., neg0..): a minute is at most 20 rows
 *                       however many records it holds, and AUC stays the full computation's
 *   rollup_agreement    shadows and challengers against the primary of the same inference id,
 *                       at the shadow's or challenger's minute
 *
 * Every bin, bucket and loss is the SQL expression the full computation (compare/compare-sql.ts)
 * uses (RecordSums computes the first two tables' in JavaScript for SQLite), so the counts are
 * equal, and sums equal up to the order of addition. A null key
 * (no predicted class, no truth label) is stored as '' and a value v as '=' || v: NULL in a
 * primary key would never conflict, so its rows would never be summed.
 */
import type { Dialect } from './dialect.js'
import { sql } from './operation.js'
import type { Operation } from './operation.js'
import type { StoredInference } from './records.js'

export const MINUTE_MS = 60_000
/** Latency histogram: bucket b holds latencies in (1.05^b, 1.05^(b+1)] ms, about 5% wide. */
export const LATENCY_GROWTH = 1.05
/** Score histogram: 1000 bins over [0, 1]; fine enough that AUC from bins matches AUC from ranks to 1e-3. */
export const SCORE_BINS = 1000
/** Score bins of the histogram the dashboard shows. */
export const DISPLAY_BINS = 10
/** Ground-truth labels that count as the positive class of a binary classifier. */
export const POSITIVE_LABELS = ['1', 'true']
/** Score bins a row of rollup_scores: 100 count columns, 20 rows a full minute. */
export const SCORE_BINS_A_ROW = 50

const KEY = ['model', 'minute', 'version', 'role'] as const
/** What the rollups read of a record and of a ground truth. */
const RECORD_COLUMNS = 'model, inference_id, ts, version, role, status, latency_ms, predicted_label, score'
const TRUTH_COLUMNS = 'model, inference_id, label, value'

/** The SQL expressions the full computation and the rollups share; `i` a record, `g` its ground truth. */
export const expressions = (d: Dialect) => {
  const clampedScore = d.greatest(d.least('i.score', '1.0 - 1e-15'), '1e-15')
  const positive = `g.label IN (${POSITIVE_LABELS.map((l) => `'${l}'`).join(', ')})`
  const binary = `g.label IN ('0', '1', 'true', 'false')`
  return {
    minute: `(i.ts / ${MINUTE_MS}) * ${MINUTE_MS}`,
    latencyBucket: `CAST(floor(ln(${d.greatest('i.latency_ms', '0.001')}) / ln(${LATENCY_GROWTH})) AS INTEGER)`,
    scoreBin: (bins: number) => `CASE WHEN i.score IS NULL THEN NULL ELSE ${d.least(d.greatest(`CAST(floor(i.score * ${bins}) AS INTEGER)`, '0'), String(bins - 1))} END`,
    positive,
    binary,
    loss: `CASE WHEN ${positive} THEN -ln(${clampedScore}) ELSE -ln(1.0 - ${clampedScore}) END`,
  }
}

/** A nullable text as a key: '' for null, '=' || v for v; `keyText` reads it back. */
const keyOf = (column: string) => `CASE WHEN ${column} IS NULL THEN '' ELSE '=' || ${column} END`
export const keyText = (key: string): string | null => (key === '' ? null : key.slice(1))

export interface Table {
  readonly name: string
  /** Key columns after (model, minute, version, role), with their types. */
  readonly keys: readonly (readonly [string, 'int' | 'text'])[]
  readonly sums: readonly (readonly [string, 'int' | 'real'])[]
}

const scoreColumns = (side: 'pos' | 'neg') => Array.from({ length: SCORE_BINS_A_ROW }, (_, k) => [`${side}${k}`, 'int'] as const)

export const TABLES = {
  latency: { name: 'rollup_latency', keys: [['ok', 'int'], ['bucket', 'int']], sums: [['n', 'int'], ['latency_sum', 'real'], ['scored', 'int'], ['score_sum', 'real']] },
  predictions: { name: 'rollup_predictions', keys: [['predicted', 'text'], ['bin', 'int']], sums: [['n', 'int']] },
  outcomes: {
    name: 'rollup_outcomes', keys: [['truth', 'text'], ['predicted', 'text']],
    sums: [['n', 'int'], ['loss_n', 'int'], ['loss_sum', 'real'], ['loss_sq', 'real'], ['err_n', 'int'], ['err_abs', 'real'], ['err_sq', 'real']],
  },
  scores: { name: 'rollup_scores', keys: [['chunk', 'int']], sums: [...scoreColumns('pos'), ...scoreColumns('neg')] },
  agreement: { name: 'rollup_agreement', keys: [], sums: [['compared', 'int'], ['agreed', 'int']] },
} as const satisfies Record<string, Table>

export function rollupTablesSql(dialect: Dialect['name']): string {
  const type = { int: dialect === 'sqlite' ? 'INTEGER' : 'BIGINT', real: dialect === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION', text: 'TEXT' }
  return Object.values(TABLES as Record<string, Table>).map((t) => {
    const keys = [['model', 'text'], ['minute', 'int'], ['version', 'text'], ['role', 'text'], ...t.keys] as const
    const columns = [...keys.map(([c, ty]) => `${c} ${type[ty]} NOT NULL`), ...t.sums.map(([c, ty]) => `${c} ${type[ty]} NOT NULL`)]
    return `CREATE TABLE ${t.name} (${columns.join(', ')}, PRIMARY KEY (${keys.map(([c]) => c).join(', ')}))${dialect === 'sqlite' ? ' WITHOUT ROWID' : ''};`
  }).join('\n')
}

/**
 * `INSERT INTO table SELECT …` that adds `select`'s rows to the rollup (its columns in the
 * table's order, grouped by the key). `WHERE true` where the select has no WHERE: SQLite
 * would read ON CONFLICT as part of a join otherwise. Rows are upserted in key order, so that
 * two PostgreSQL writers lock them in the same order.
 */
function upsert(t: Table, select: string, isOrdered = true): string {
  const keys = [...KEY, ...t.keys.map(([c]) => c)]
  const sums = t.sums.map(([c]) => c)
  return `INSERT INTO ${t.name} (${[...keys, ...sums].join(', ')}) ${select}${isOrdered ? ` ORDER BY ${keys.map((_, k) => k + 1).join(', ')}` : ''}
    ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${sums.map((c) => `${c} = ${t.name}.${c} + excluded.${c}`).join(', ')}`
}

/**
 * The records being added, for recordRollupSql: SQLite's are the rows of the batch just
 * inserted (rowid past the one before it), PostgreSQL's the RETURNING rows of its INSERT.
 */
export interface RecordSource {
  /** The new records as a FROM item named `alias`, and the condition that selects them. */
  readonly rows: (alias: string) => { readonly from: string; readonly where: string }
  /** The table that holds the stored records of new ones' inference ids, for Dialect.joinById. */
  readonly stored: string
  /**
   * Whether `stored` leaves out the new records themselves (PostgreSQL's snapshot), so that
   * pairs within the batch are counted apart. Not by a join of the batch with itself: the
   * planner, which cannot know the batch's size, looped over it once a record.
   */
  readonly isBatchApart: boolean
  /** The condition on a stored record `alias` that it was stored before the batch; null when there are none to pair with. */
  readonly storedBefore: ((alias: string) => string) | null
}

/** Statements that add the records of `src` to every rollup, the ground truth already stored for them included. */
export function recordRollupSql(d: Dialect, src: RecordSource): string[] {
  const joined = joinedRollupSql(d, src)
  return [...ownRollupSql(d, src), ...joined.judged, joined.agreement]
}

/** The rollups each record adds to by itself: latency and predictions (RecordSums in JavaScript). */
function ownRollupSql(d: Dialect, src: RecordSource): string[] {
  const e = expressions(d)
  const { from, where } = src.rows('i')
  const key = `i.model, ${e.minute}, i.version, i.role`
  const latency = upsert(TABLES.latency, `SELECT ${key}, CASE WHEN i.status = 200 THEN 1 ELSE 0 END, CASE WHEN i.status = 200 THEN ${e.latencyBucket} ELSE 0 END,
      count(*), sum(i.latency_ms), count(i.score), coalesce(sum(i.score), 0)
    FROM ${from} WHERE ${where} GROUP BY 1, 2, 3, 4, 5, 6`)
  const predictions = upsert(TABLES.predictions, `SELECT ${key}, ${keyOf('i.predicted_label')}, coalesce(${e.scoreBin(DISPLAY_BINS)}, -1), count(*)
    FROM ${from} WHERE ${where} AND i.status = 200 GROUP BY 1, 2, 3, 4, 5, 6`)
  return [latency, predictions]
}

/**
 * The rollups a record adds to with another: its ground truth (`judged`, with `hasTruth`, a
 * query that finds whether any new record has one) and the pairs of shadows and challengers
 * with primaries (`agreement`).
 */
export function joinedRollupSql(d: Dialect, src: RecordSource): { judged: string[]; hasTruth: string; agreement: string } {
  const e = expressions(d)
  const { from, where } = src.rows('i')
  const judged = `${from} ${d.joinById('ground_truth', 'g', TRUTH_COLUMNS, 'i')}`
  // pairs: each new shadow or challenger with every primary of its id, and each new primary
  // with the shadows and challengers stored before it (the batch's own pairs are in the first)
  const mirror = `i.role IN ('shadow', 'challenger') AND i.status = 200`
  const primary = `p.role = 'primary' AND p.status = 200`
  const pair = `i.model, ${e.minute} AS minute, i.version, i.role, 1 AS compared, CASE WHEN i.predicted_label = p.predicted_label THEN 1 ELSE 0 END AS agreed`
  const arms = [`SELECT ${pair} FROM ${from} ${d.joinById(src.stored, 'p', RECORD_COLUMNS, 'i', primary)} WHERE ${where} AND ${mirror}`]
  if (src.storedBefore !== null) {
    const primaries = src.rows('p')
    arms.push(`SELECT ${pair} FROM ${primaries.from} ${d.joinById(src.stored, 'i', RECORD_COLUMNS, 'p', `${mirror} AND ${src.storedBefore('i')}`)} WHERE ${primaries.where} AND ${primary}`)
  }
  if (src.isBatchApart) {
    // each new shadow or challenger against the new primaries of its id, counted by window functions
    const isPrimary = `CASE WHEN i.role = 'primary' AND i.status = 200 THEN 1 ELSE 0 END`
    arms.push(`SELECT model, minute, version, role, primaries, CASE WHEN predicted_label IS NULL THEN 0 ELSE alike END FROM (
      SELECT i.model, ${e.minute} AS minute, i.version, i.role, i.status, i.predicted_label,
        sum(${isPrimary}) OVER (PARTITION BY i.model, i.inference_id) AS primaries,
        sum(${isPrimary}) OVER (PARTITION BY i.model, i.inference_id, i.predicted_label) AS alike
      FROM ${from} WHERE ${where}) i WHERE ${mirror} AND primaries > 0`)
  }
  const agreement = upsert(TABLES.agreement, `SELECT model, minute, version, role, sum(compared), sum(agreed) FROM (${arms.join(' UNION ALL ')}) pairs WHERE true GROUP BY 1, 2, 3, 4`)
  return {
    judged: judgedRollupSql(d, judged, `${where} AND i.status = 200`, 1),
    hasTruth: `SELECT 1 FROM ${judged} WHERE ${where} AND i.status = 200 LIMIT 1`,
    agreement,
  }
}

/**
 * The latency and predictions rollups of a batch summed in JavaScript, as ownRollupSql sums
 * them in SQL: on SQLite, summing the batch's rows again in SQL took 2.6 µs a record, here
 * about a tenth of that. The bucket is the same floor(ln(latency) / ln(1.05)) in doubles; the
 * two logarithms could differ in their last bit only, which moves a record to the next bucket
 * only within about 1e-14 of a bucket's edge.
 */
export class RecordSums {
  readonly #groups: GroupSums[] = []
  #last: GroupSums | null = null

  add(r: StoredInference): void {
    const minute = Math.floor(r.ts / MINUTE_MS) * MINUTE_MS
    const g = this.#groupOf(r, minute)
    const scored = r.score === null ? 0 : 1
    const score = r.score ?? 0
    if (r.status !== 200) {
      g.failed[0]++, g.failed[1] += r.latency_ms, g.failed[2] += scored, g.failed[3] += score
      return
    }
    const bucket = Math.floor(Math.log(Math.max(r.latency_ms, 0.001)) / LN_GROWTH) | 0 // a small integer key
    const l = g.latency.get(bucket)
    if (l === undefined) g.latency.set(bucket, [1, r.latency_ms, scored, score])
    else l[0]++, l[1] += r.latency_ms, l[2] += scored, l[3] += score
    let bins = g.predictions.get(r.predicted_label)
    if (bins === undefined) g.predictions.set(r.predicted_label, (bins = new Array<number>(DISPLAY_BINS + 1).fill(0)))
    bins[r.score === null ? DISPLAY_BINS : Math.min(Math.max(Math.floor(r.score * DISPLAY_BINS), 0), DISPLAY_BINS - 1)]++
  }

  /** Rows of rollup_latency, each its columns in table order. */
  *latencyRows(): Generator<unknown[]> {
    for (const g of this.#groups) {
      if (g.failed[0] > 0) yield [g.model, g.minute, g.version, g.role, 0, 0, ...g.failed]
      for (const [bucket, sums] of g.latency) yield [g.model, g.minute, g.version, g.role, 1, bucket, ...sums]
    }
  }

  /** Rows of rollup_predictions, each its columns in table order. */
  *predictionRows(): Generator<unknown[]> {
    for (const g of this.#groups) {
      for (const [label, bins] of g.predictions) {
        const predicted = label === null ? '' : `=${label}`
        for (let b = 0; b <= DISPLAY_BINS; b++) if (bins[b] > 0) yield [g.model, g.minute, g.version, g.role, predicted, b === DISPLAY_BINS ? -1 : b, bins[b]]
      }
    }
  }

  /** Records of a batch mostly share their group with the one before: a comparison of four fields, no key to build. */
  #groupOf(r: StoredInference, minute: number): GroupSums {
    const last = this.#last
    if (last !== null && last.minute === minute && last.version === r.version && last.role === r.role && last.model === r.model) return last
    let g = this.#groups.find((g) => g.minute === minute && g.version === r.version && g.role === r.role && g.model === r.model)
    if (g === undefined) this.#groups.push((g = { model: r.model, minute, version: r.version, role: r.role, failed: [0, 0, 0, 0], latency: new Map(), predictions: new Map() }))
    return (this.#last = g)
  }
}

/** One model, minute, version and role of a batch: [n, latency_sum, scored, score_sum] by latency bucket, and the failures'; predictions by key, by display bin (the last: no score). */
interface GroupSums {
  readonly model: string
  readonly minute: number
  readonly version: string
  readonly role: string
  readonly failed: [number, number, number, number]
  readonly latency: Map<number, [number, number, number, number]>
  readonly predictions: Map<string | null, number[]>
}

const LN_GROWTH = Math.log(LATENCY_GROWTH)

/** One row's upsert into a rollup table (RecordSums' rows), `?` parameters in column order. */
export function upsertRowSql(t: Table): string {
  const columns = [...KEY, ...t.keys.map(([c]) => c), ...t.sums.map(([c]) => c)]
  return upsert(t, `VALUES (${columns.map(() => '?').join(', ')})`, false)
}

/** Statements that add (`sign` 1) or take out (-1) the judged records `from` names `i`, with their truth `g`. */
export function judgedRollupSql(d: Dialect, from: string, where: string, sign: 1 | -1): string[] {
  const e = expressions(d)
  const s = sign === 1 ? '' : '-'
  const scored = `i.score IS NOT NULL AND ${e.binary}`
  const outcomes = upsert(TABLES.outcomes, `SELECT i.model, ${e.minute}, i.version, i.role, ${keyOf('g.label')}, ${keyOf('i.predicted_label')},
      ${s}count(*), ${s}sum(CASE WHEN ${scored} THEN 1 ELSE 0 END),
      ${s}coalesce(sum(CASE WHEN ${scored} THEN ${e.loss} END), 0), ${s}coalesce(sum(CASE WHEN ${scored} THEN (${e.loss}) * (${e.loss}) END), 0),
      ${s}count(CASE WHEN i.score IS NOT NULL AND g.value IS NOT NULL THEN 1 END),
      ${s}coalesce(sum(abs(i.score - g.value)), 0), ${s}coalesce(sum((i.score - g.value) * (i.score - g.value)), 0)
    FROM ${from} WHERE ${where} GROUP BY 1, 2, 3, 4, 5, 6`)
  // by bin first, then one row a SCORE_BINS_A_ROW bins: each count column sums a few rows, not every record
  const bins = `SELECT i.model, ${e.minute} AS minute, i.version, i.role, ${e.scoreBin(SCORE_BINS)} AS bin, CASE WHEN ${e.positive} THEN 1 ELSE 0 END AS positive, count(*) AS n
    FROM ${from} WHERE ${where} AND i.score IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`
  const column = (positive: 0 | 1, k: number) => `${s}sum(CASE WHEN positive = ${positive} AND bin % ${SCORE_BINS_A_ROW} = ${k} THEN n ELSE 0 END)`
  const scores = upsert(TABLES.scores, `SELECT model, minute, version, role, bin / ${SCORE_BINS_A_ROW},
      ${([1, 0] as const).flatMap((p) => Array.from({ length: SCORE_BINS_A_ROW }, (_, k) => column(p, k))).join(', ')}
    FROM (${bins}) b WHERE true GROUP BY 1, 2, 3, 4, 5`)
  return [outcomes, scores]
}

/** Every stored record and its ground truth into the empty rollups: the migration that adds them. */
export function backfillSql(d: Dialect): string {
  const all: RecordSource = {
    rows: (a) => ({ from: `inferences ${a}`, where: 'true' }),
    stored: 'inferences',
    isBatchApart: false,
    storedBefore: null, // every pair is found from its shadow's or challenger's side
  }
  return recordRollupSql(d, all).map((s) => `${s};`).join('\n')
}

/**
 * In a ground-truth operation, around the upsert of `ids`' truth: `sign` -1 takes out what
 * their truth stored so far added to the rollups; 1, once the new truth is written, adds it.
 */
export function* groundTruthRollups(model: string, ids: readonly string[], sign: 1 | -1): Operation<void> {
  const where = `g.model = ? AND g.inference_id IN (${ids.map(() => '?').join(', ')}) AND i.status = 200`
  for (const k of [0, 1]) {
    yield (d: Dialect) => sql(judgedRollupSql(d, `ground_truth g ${d.joinById('inferences', 'i', RECORD_COLUMNS, 'g')}`, where, sign)[k], model, ...ids)
  }
}
