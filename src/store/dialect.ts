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
}

export const SQLITE: Dialect = { name: 'sqlite', drivingJoin: 'CROSS JOIN', unindexed: (c) => `+${c}`, greatest: (a, b) => `max(${a}, ${b})`, least: (a, b) => `min(${a}, ${b})`, nowMs: "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)" }
export const POSTGRES: Dialect = { name: 'postgres', drivingJoin: 'JOIN', unindexed: (c) => c, greatest: (a, b) => `greatest(${a}, ${b})`, least: (a, b) => `least(${a}, ${b})`, nowMs: 'CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)' }
