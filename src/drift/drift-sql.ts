/**
 * Reference profiles in the store, and the bin counts of a window of records, computed in SQL
 * with a profile's edges: store operations (store/operation.ts) the store worker runs by name
 * (registry.ts). One pass over the window's records a count, whatever the number of features:
 * the features' values are read from each record's inputs once (a subquery the planner may not
 * merge into the aggregate, else SQLite reads the JSON again for every edge), then counted
 * below each edge (numeric) or equal to each value (categorical). The bins' counts are the
 * differences of those cumulative counts.
 */
import { sql } from '../store/operation.js'
import type { Operation } from '../store/operation.js'
import type { Dialect } from '../store/dialect.js'
import { ReferenceProfileSchema } from './profile.js'
import type { ColumnBins, ReferenceProfile } from './profile.js'

export interface StoredProfile {
  readonly model: string
  readonly version: string
  readonly profile: ReferenceProfile
  readonly updated_at: number
  readonly updated_by: string
}

/** Set (or replace) a version's profile. */
export function* putProfile(model: string, version: string, profile: ReferenceProfile, actor: string, at: number): Operation<StoredProfile> {
  yield sql(`INSERT INTO reference_profiles (model, version, profile, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (model, version) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
  model, version, JSON.stringify(profile), at, actor)
  return { model, version, profile, updated_at: at, updated_by: actor }
}

/** Set a version's profile unless it has one: a file in the version's folder never replaces one given since. */
export function* putProfileIfAbsent(model: string, version: string, profile: ReferenceProfile, actor: string, at: number): Operation<boolean> {
  const rows = yield sql(`INSERT INTO reference_profiles (model, version, profile, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (model, version) DO NOTHING RETURNING version`, model, version, JSON.stringify(profile), at, actor)
  return rows.length === 1
}

export function* getProfile(model: string, version: string): Operation<StoredProfile | null> {
  const [row] = yield sql('SELECT model, version, profile, updated_at, updated_by FROM reference_profiles WHERE model = ? AND version = ?', model, version)
  return row === undefined ? null : storedProfile(row)
}

/** Every version that has a profile (the drift gauge's list). */
export function* listProfiles(): Operation<{ model: string; version: string; updated_at: number }[]> {
  const rows = yield sql('SELECT model, version, updated_at FROM reference_profiles ORDER BY model, version')
  return rows.map((r) => ({ model: String(r.model), version: String(r.version), updated_at: Number(r.updated_at) }))
}

function storedProfile(row: Record<string, unknown>): StoredProfile {
  return {
    model: String(row.model),
    version: String(row.version),
    profile: ReferenceProfileSchema.parse(JSON.parse(String(row.profile))),
    updated_at: Number(row.updated_at),
    updated_by: String(row.updated_by),
  }
}

export interface WindowFilter {
  readonly model: string
  readonly version: string
  /** ms since the epoch, inclusive. */
  readonly since: number
  /** ms since the epoch, exclusive. */
  readonly until: number
}

/** A window's counts in a profile's bins, one entry a column of `columns`, in its order. */
export interface WindowCounts {
  /** Answered records in the window. */
  readonly records: number
  readonly columns: readonly { readonly feature: string; readonly n: number; readonly counts: readonly number[] }[]
}

/** A column to count: a feature read from the record's inputs, or the record's score. */
export interface CountedColumn {
  readonly bins: ColumnBins
  readonly isScore: boolean
}

/** The columns to count: the profile's features, then its score (when it has one). */
export function columnsOf(profile: ReferenceProfile): CountedColumn[] {
  const features = profile.features.map((bins) => ({ bins, isScore: false }))
  return profile.score === null ? features : [...features, { bins: profile.score, isScore: true }]
}

/**
 * The value of a column in a record: a number (numeric: a JSON number, else null; SQLite's ->>
 * would give a string as text and true as 1), or text (categorical). Feature names are
 * identifiers (profile.ts), so a path is written into the text: SQLite reads a literal path
 * once a statement, a bound one again for every record.
 */
function valueOf(d: Dialect, { bins, isScore }: CountedColumn): string {
  if (isScore) return 'i.score'
  if (d.name === 'sqlite') {
    const path = `'$."${bins.feature}"'`
    return bins.kind === 'numeric'
      ? `CASE WHEN json_type(i.inputs, ${path}) IN ('integer', 'real') THEN i.inputs ->> ${path} END`
      : `CASE json_type(i.inputs, ${path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(i.inputs ->> ${path} AS TEXT) END`
  }
  const key = `'${bins.feature}'`
  return bins.kind === 'numeric'
    ? `CASE WHEN jsonb_typeof(i.inputs -> ${key}) = 'number' THEN (i.inputs ->> ${key})::double precision END`
    : `(i.inputs ->> ${key})`
}

/**
 * The statement counting a window in the columns' bins. `?` placeholders are numbered in the
 * order they appear in the text, so parameters are pushed in that order: the outer list's
 * edges and values first, then the subquery's filter.
 */
function windowCountsSql(d: Dialect, f: WindowFilter, columns: readonly CountedColumn[], minuteMs: number | null) {
  const params: unknown[] = []
  const p = (v: unknown) => (params.push(v), '?')
  const outer: string[] = [...(minuteMs === null ? [] : ['minute']), 'count(*) AS records']
  columns.forEach(({ bins }, k) => {
    outer.push(`count(x${k}) AS n${k}`) // the values counted: a missing or wrong-typed one is null
    if (bins.kind === 'numeric') bins.edges.forEach((e, j) => outer.push(`count(*) FILTER (WHERE x${k} < ${p(e)}) AS c${k}_${j}`))
    else bins.values.forEach((v, j) => outer.push(`count(*) FILTER (WHERE x${k} = ${p(v)}) AS c${k}_${j}`))
  })
  const inner = [...(minuteMs === null ? [] : [`(i.ts / ${minuteMs}) * ${minuteMs} AS minute`]), ...columns.map((c, k) => `${valueOf(d, c)} AS x${k}`)]
  const where = `i.model = ${p(f.model)} AND i.version = ${p(f.version)} AND i.ts >= ${p(f.since)} AND i.ts < ${p(f.until)} AND i.status = 200`
  // OFFSET 0 (PostgreSQL) and LIMIT -1 (SQLite) keep the subquery a subquery: each value read once a record
  const fence = d.name === 'sqlite' ? 'LIMIT -1' : 'OFFSET 0'
  return sql(`SELECT ${outer.join(', ')} FROM (SELECT ${inner.join(', ')} FROM inferences i WHERE ${where} ${fence}) w${minuteMs === null ? '' : ' GROUP BY minute'}`, ...params)
}

/** A result row's counts: below each edge or equal to each value, made counts a bin. */
function countsOf(row: Record<string, unknown>, columns: readonly CountedColumn[]): WindowCounts {
  return {
    records: Number(row.records),
    columns: columns.map(({ bins }, k) => {
      const n = Number(row[`n${k}`])
      const cumulative = (bins.kind === 'numeric' ? bins.edges : bins.values).map((_, j) => Number(row[`c${k}_${j}`]))
      if (bins.kind === 'categorical') return { feature: bins.feature, n, counts: [...cumulative, n - cumulative.reduce((a, b) => a + b, 0)] }
      const upTo = [...cumulative, n]
      return { feature: bins.feature, n, counts: upTo.map((c, j) => c - (j === 0 ? 0 : upTo[j - 1])) }
    }),
  }
}

/** A window's records counted in the bins of `columns` (columnsOf a profile). */
export function* windowCounts(f: WindowFilter, columns: readonly CountedColumn[]): Operation<WindowCounts> {
  const [row] = yield (d) => windowCountsSql(d, f, columns, null)
  return countsOf(row, columns)
}

export const MINUTE_MS = 60_000

/** A window's records counted in the bins of `columns`, a minute at a time (the minutes with records). */
export function* countsByMinute(f: WindowFilter, columns: readonly CountedColumn[]): Operation<{ minute: number; counts: WindowCounts }[]> {
  const rows = yield (d) => windowCountsSql(d, f, columns, MINUTE_MS)
  return rows.map((row) => ({ minute: Number(row.minute), counts: countsOf(row, columns) }))
}

/** Counts of several windows in the same bins, added up. */
export function addCounts(windows: readonly WindowCounts[], columns: readonly CountedColumn[]): WindowCounts {
  return {
    records: windows.reduce((n, w) => n + w.records, 0),
    columns: columns.map(({ bins }, k) => ({
      feature: bins.feature,
      n: windows.reduce((n, w) => n + w.columns[k].n, 0),
      counts: bins.counts.map((_, j) => windows.reduce((n, w) => n + w.columns[k].counts[j], 0)),
    })),
  }
}

/** Where drift's reference comes from (drift.ts parses the query into this). */
export type ReferenceSpec =
  | { readonly kind: 'profile'; readonly version: string }
  | { readonly kind: 'version'; readonly version: string }
  | { readonly kind: 'window'; readonly since: number; readonly until: number }

export interface DriftRequest {
  readonly model: string
  readonly version: string
  readonly since: number
  readonly until: number
  readonly reference: ReferenceSpec
}

export interface DriftRaw {
  /** The profile whose bins were counted in. */
  readonly binsFrom: StoredProfile
  /** The reference's counts: the profile's own, or another version's or window's records counted in its bins. */
  readonly reference: WindowCounts
  readonly live: WindowCounts
}

export function profileCounts(profile: ReferenceProfile, columns: readonly CountedColumn[]): WindowCounts {
  return { records: profile.records, columns: columns.map(({ bins }) => ({ feature: bins.feature, n: bins.n, counts: bins.counts })) }
}
