/**
 * What differs between the two stores' SQL, beyond the column types in migrations.ts. Every
 * statement writes `?` placeholders (the PostgreSQL runner numbers them, operation.ts); a
 * statement that needs more than that is built from the dialect of the store that runs it.
 */

export interface Dialect {
  readonly name: 'sqlite' | 'postgres'
  /** A join whose left side drives the loop (SQLite: CROSS JOIN; PostgreSQL's planner chooses). */
  readonly drivingJoin: string
  /**
   * A column the planner must not look up by index (SQLite: unary +). The comparison finds the
   * inner side of each join by inference id; SQLite, without statistics on the table, rated its
   * time index better and ran through the window once for each outer row (issue #13: 16.5 s
   * for 13,000 records). PostgreSQL's planner chose the id index by itself.
   */
  unindexed(column: string): string
  greatest(a: string, b: string): string
  least(a: string, b: string): string
  /** The store's clock in ms since 1970: one clock for every replica's leases and steps. */
  readonly nowMs: string
  /**
   * A join that looks up, for each row of `of`, the rows of `table` (as `alias`, giving
   * `columns`) with its model and inference id, by index, whatever the planner's statistics say:
   * just after a bulk load PostgreSQL took a 1,000,000-row table for a few rows and scanned it
   * all for each of the rollups' statements (5.5 s each). `extra` narrows the rows looked up.
   */
  joinById(table: string, alias: string, columns: string, of: string, extra?: string): string
}

const sameId = (alias: string, of: string, extra?: string) => `${alias}.model = ${of}.model AND ${alias}.inference_id = ${of}.inference_id${extra === undefined ? '' : ` AND ${extra}`}`

export const SQLITE: Dialect = {
  name: 'sqlite', drivingJoin: 'CROSS JOIN', unindexed: (c) => `+${c}`, greatest: (a, b) => `max(${a}, ${b})`, least: (a, b) => `min(${a}, ${b})`,
  nowMs: "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
  joinById: (table, alias, _columns, of, extra) => `CROSS JOIN ${table} ${alias} ON ${sameId(alias, of, extra)}`,
}
export const POSTGRES: Dialect = {
  name: 'postgres', drivingJoin: 'JOIN', unindexed: (c) => c, greatest: (a, b) => `greatest(${a}, ${b})`, least: (a, b) => `least(${a}, ${b})`,
  nowMs: 'CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)',
  // LATERAL, and OFFSET 0 so that the planner cannot pull the subquery up into a plain join again
  joinById: (table, alias, columns, of, extra) => `CROSS JOIN LATERAL (SELECT ${columns} FROM ${table} ${alias} WHERE ${sameId(alias, of, extra)} OFFSET 0) ${alias}`,
}
