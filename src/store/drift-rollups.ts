/**
 * Drift rollups: each profiled version's answered records counted in its reference profile's
 * bins, per minute (the record's `ts`), kept by the store in the transaction that writes the
 * records. The counting is drift's (drift/drift-rollups.ts, given to the store as a
 * DriftCounter); the store only writes its rows beside the records.
 *
 *   rollup_drift        model, version, minute, col, chunk → b0 … b{DRIFT_BINS_A_ROW-1}
 *                       col: the profile's column (features in order, then the score), or
 *                       RECORDS_COL, whose b0 counts the minute's answered records; chunk k
 *                       holds bins k·DRIFT_BINS_A_ROW …: a numeric column is one row, a
 *                       categorical one of 100 values and (other) eleven
 *   drift_rollup_state  one row a profiled version: the profile the rows were counted in
 *                       (its updated_at), and `through`, the minute up to which its records
 *                       stored before the profile have been counted (null: all, complete)
 */
import type { Dialect } from './dialect.js'
import { sql } from './operation.js'
import type { DialectSql, Operation, Rows } from './operation.js'
import type { StoredInference } from './records.js'

/** Bins a row of rollup_drift: a numeric column's ten deciles fit one. */
export const DRIFT_BINS_A_ROW = 10
/** The column whose b0 counts the minute's answered records. */
export const RECORDS_COL = -1

export const DRIFT_KEY = ['model', 'version', 'minute', 'col', 'chunk'] as const
export const DRIFT_BIN_COLUMNS = Array.from({ length: DRIFT_BINS_A_ROW }, (_, k) => `b${k}`)

/** One row of rollup_drift, its columns in DRIFT_KEY then DRIFT_BIN_COLUMNS order. */
export type DriftRollupRow = [model: string, version: string, minute: number, col: number, chunk: number, ...bins: number[]]

/** A row of drift_rollup_state, as every writer's transaction reads it. */
export interface DriftRollupState {
  readonly model: string
  readonly version: string
  readonly profileAt: number
  readonly through: number | null
}

/**
 * Every writer (each replica's, each worker's) reads the states first in its transaction, FOR
 * SHARE on PostgreSQL; a profile's reset and a rebuild step lock the table against them first
 * (lockDriftStates). So a batch is counted with the profile and `through` in force when it
 * commits, whichever process set them; SQLite's IMMEDIATE transactions run one at a time anyway.
 */
export const driftStatesSql = (d: Dialect): string =>
  `SELECT model, version, profile_at, through FROM drift_rollup_state${d.name === 'postgres' ? ' FOR SHARE' : ''}`

export const driftStatesOf = (rows: Rows): DriftRollupState[] =>
  rows.map((r) => ({ model: String(r.model), version: String(r.version), profileAt: Number(r.profile_at), through: r.through === null ? null : Number(r.through) }))

/** One version's state, as driftStatesOf reads it; null when its profile has none yet. */
export function* driftStateOf(model: string, version: string): Operation<DriftRollupState | null> {
  const rows = yield sql('SELECT model, version, profile_at, through FROM drift_rollup_state WHERE model = ? AND version = ?', model, version)
  return rows.length === 0 ? null : driftStatesOf(rows)[0]
}

/** First in a transaction that changes a state: waits for the writers counting with it, and holds back the next. */
export const lockDriftStates: DialectSql = (d) =>
  d.name === 'postgres' ? sql('LOCK TABLE drift_rollup_state IN EXCLUSIVE MODE') : sql('SELECT 1')

/** What the store asks of drift while it writes a batch (drift/drift-rollups.ts). */
export interface DriftCounter {
  /**
   * The states as this batch's transaction read them (driftStatesSql): the counting follows
   * them (a profile set, replaced or removed through another process, a rebuild it moved on).
   * An operation when profiles must be read for it, run in the same transaction; else null.
   */
  follow(states: readonly DriftRollupState[]): Operation<void> | null
  /** Whether any of the rows' versions is counted: when not, the batch is written as without drift. */
  wants(rows: readonly StoredInference[]): boolean
  /** The rows to add for the new records among `rows` (`isNew` null: all are new). */
  count(rows: readonly StoredInference[], isNew: ReadonlySet<string> | null): DriftRollupRow[]
  /** Run `write` alone: never while a rebuild step counts the records it partitions with the writer. */
  exclusive<T>(write: () => Promise<T>): Promise<T>
}

export function driftRollupTablesSql(dialect: Dialect['name']): string {
  const int = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT'
  return `CREATE TABLE rollup_drift (model TEXT NOT NULL, version TEXT NOT NULL, minute ${int} NOT NULL, col INTEGER NOT NULL, chunk INTEGER NOT NULL,
      ${DRIFT_BIN_COLUMNS.map((c) => `${c} ${int} NOT NULL`).join(', ')}, PRIMARY KEY (${DRIFT_KEY.join(', ')}))${dialect === 'sqlite' ? ' WITHOUT ROWID' : ''};
    CREATE TABLE drift_rollup_state (model TEXT NOT NULL, version TEXT NOT NULL, profile_at BIGINT NOT NULL, through BIGINT, PRIMARY KEY (model, version));`
}

const ON_CONFLICT = `ON CONFLICT (${DRIFT_KEY.join(', ')}) DO UPDATE SET ${DRIFT_BIN_COLUMNS.map((c) => `${c} = rollup_drift.${c} + excluded.${c}`).join(', ')}`

/** One row's upsert, `?` parameters in column order (SQLite, a statement a row). */
export const DRIFT_UPSERT_ROW_SQL = `INSERT INTO rollup_drift (${[...DRIFT_KEY, ...DRIFT_BIN_COLUMNS].join(', ')}) VALUES (${[...DRIFT_KEY, ...DRIFT_BIN_COLUMNS].map(() => '?').join(', ')}) ${ON_CONFLICT}`

/** Every row in one statement, a parameter an array a column (PostgreSQL), upserted in key order so two writers lock alike. */
export const DRIFT_UPSERT_ARRAYS_SQL = `INSERT INTO rollup_drift (${[...DRIFT_KEY, ...DRIFT_BIN_COLUMNS].join(', ')})
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::int[], ${DRIFT_BIN_COLUMNS.map((_, k) => `$${k + 6}::bigint[]`).join(', ')}) ORDER BY 1, 2, 3, 4, 5
  ${ON_CONFLICT}`

/** Rows as one array a column, for DRIFT_UPSERT_ARRAYS_SQL. */
export const columnArrays = (rows: readonly DriftRollupRow[]): unknown[][] =>
  Array.from({ length: DRIFT_KEY.length + DRIFT_BINS_A_ROW }, (_, c) => rows.map((r) => r[c]))
