/**
 * A version's reference profile: what its inputs and its score looked like in the data it was
 * trained or validated on, as bins and counts, the baseline live records are measured against
 * (drift.ts). Numeric columns get fixed bins from the reference's deciles, open at both ends;
 * categorical columns (any value that is not a number) get a count per value.
 *
 *   edges      e1 < e2 < … < ek   (the distinct deciles of the reference)
 *   bins       (-∞, e1) [e1, e2) … [ek, +∞)        counts.length = edges.length + 1
 *
 * Built where the data is (the CLI, npm run models:build), so only the profile travels.
 */
import { z } from 'zod'

export const PROFILE_FORMAT = 1
export const DECILES = 10 // numeric bins: edges at the deciles (fewer where deciles coincide)
export const MAX_CATEGORIES = 100 // categorical values kept by name; the rest are counted as OTHER
export const OTHER = '(other)'
export const SCORE = 'score'

const featureName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'feature names are identifiers').max(128)
const count = z.number().int().min(0)

export const NumericBinsSchema = z.strictObject({
  feature: featureName,
  kind: z.literal('numeric'),
  n: count,
  edges: z.array(z.number()).max(1_000),
  counts: z.array(count),
}).refine((b) => b.counts.length === b.edges.length + 1, 'counts has one entry more than edges (the bins are open at both ends)')
  .refine((b) => b.edges.every((e, i) => i === 0 || e > b.edges[i - 1]), 'edges must increase')

export const CategoricalBinsSchema = z.strictObject({
  feature: featureName,
  kind: z.literal('categorical'),
  n: count,
  values: z.array(z.string().max(256)).max(MAX_CATEGORIES),
  counts: z.array(count),
}).refine((b) => b.counts.length === b.values.length + 1, `counts has one entry more than values (the last counts every other value, ${OTHER})`)
  .refine((b) => new Set(b.values).size === b.values.length, 'values are listed once each')

export const ColumnBinsSchema = z.union([NumericBinsSchema, CategoricalBinsSchema])

export const ReferenceProfileSchema = z.strictObject({
  format: z.literal(PROFILE_FORMAT),
  /** Rows of the reference data. */
  records: count,
  /** Where the data came from: a file name, a training set. */
  source: z.string().max(1_000),
  features: z.array(ColumnBinsSchema).min(1).max(10_000)
    .refine((fs) => new Set(fs.map((f) => f.feature)).size === fs.length, 'each feature is profiled once'),
  score: NumericBinsSchema.nullable(),
})

export type NumericBins = z.infer<typeof NumericBinsSchema>
export type CategoricalBins = z.infer<typeof CategoricalBinsSchema>
export type ColumnBins = z.infer<typeof ColumnBinsSchema>
export type ReferenceProfile = z.infer<typeof ReferenceProfileSchema>

export type CellValue = number | string | boolean | null | undefined

/** A value's text as a categorical bin names it (the store reads JSON values the same way). */
export const categoryOf = (v: string | number | boolean): string => String(v)

/** The bin a number falls in: the count of edges at or below it. */
export function binOf(edges: readonly number[], x: number): number {
  let lo = 0
  let hi = edges.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (edges[mid] <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Numeric bins of a column: edges at its distinct deciles. */
export function numericBins(feature: string, values: readonly number[]): NumericBins {
  const sorted = Float64Array.from(values).sort()
  const edges: number[] = []
  for (let k = 1; k < DECILES; k++) {
    if (sorted.length === 0) break
    const e = sorted[Math.floor((k * sorted.length) / DECILES)]
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e)
  }
  const counts = new Array<number>(edges.length + 1).fill(0)
  for (const x of sorted) counts[binOf(edges, x)]++
  return { feature, kind: 'numeric', n: sorted.length, edges, counts }
}

/** Categorical bins: the MAX_CATEGORIES most frequent values by name, the rest as OTHER. */
export function categoricalBins(feature: string, values: readonly string[]): CategoricalBins {
  const byValue = new Map<string, number>()
  for (const v of values) byValue.set(v, (byValue.get(v) ?? 0) + 1)
  const kept = [...byValue].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, MAX_CATEGORIES)
  kept.sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }))
  const other = values.length - kept.reduce((n, [, c]) => n + c, 0)
  return { feature, kind: 'categorical', n: values.length, values: kept.map(([v]) => v), counts: [...kept.map(([, c]) => c), other] }
}

/**
 * A column's bins: numeric when every present value is a finite number, categorical otherwise.
 * Missing values (null, absent, empty) are left out of the counts.
 */
export function columnBins(feature: string, cells: readonly CellValue[]): ColumnBins {
  const present = cells.filter((c): c is string | number | boolean => c !== null && c !== undefined && c !== '')
  const isNumeric = present.every((c) => typeof c === 'number' && Number.isFinite(c))
  return isNumeric ? numericBins(feature, present as number[]) : categoricalBins(feature, present.map(categoryOf))
}

export interface ProfileInput {
  readonly source: string
  /** Feature name to its column, one cell a reference row. */
  readonly columns: ReadonlyMap<string, readonly CellValue[]>
  /** The model's score on each row, when known. */
  readonly scores: readonly number[] | null
  readonly records: number
}

export function buildProfile(input: ProfileInput): ReferenceProfile {
  return {
    format: PROFILE_FORMAT,
    records: input.records,
    source: input.source,
    features: [...input.columns].map(([feature, cells]) => columnBins(feature, cells)),
    score: input.scores === null ? null : numericBins(SCORE, input.scores.filter(Number.isFinite)),
  }
}

/** A profile as a file keeps it (reference.json): one column a line, so a diff shows which moved. */
export function profileFileText(profile: ReferenceProfile): string {
  const { features, score, ...head } = profile
  const lines = features.map((f) => `  ${JSON.stringify(f)}`).join(',\n')
  return `${JSON.stringify(head).slice(0, -1)},\n "features": [\n${lines}\n ],\n "score": ${JSON.stringify(score)}\n}\n`
}
