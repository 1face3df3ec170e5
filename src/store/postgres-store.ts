/**
 * The shared store: PostgreSQL, for many gateway replicas writing one log. Batches go in
 * as one INSERT … SELECT FROM unnest(arrays), a statement with 17 parameters whatever the
 * batch size. Migrations take an advisory lock, so replicas starting together apply each once.
 */
import pg from 'pg'
import { POSTGRES } from './dialect.js'
import { MIGRATIONS, migrationSql } from './migrations.js'
import { runOnPostgres, runStepsOnPostgres, withPostgresTransaction } from './operation.js'
import type { Operation, TransactionMode } from './operation.js'
import { columnArrays, DRIFT_UPSERT_ARRAYS_SQL, driftStatesOf, driftStatesSql } from './drift-rollups.js'
import type { DriftCounter } from './drift-rollups.js'
import { INSERT_COLUMNS } from './query-sql.js'
import type { StoredInference } from './records.js'
import { recordRollupSql } from './rollups.js'
import type { RecordSource } from './rollups.js'
import type { Store } from './store.js'

const MIGRATION_LOCK = 0x5357_4c47 // any constant shared by every replica
// a batch is one statement with one array parameter a column, whatever its size
const COLUMN_TYPES: Record<(typeof INSERT_COLUMNS)[number], string> = {
  record_id: 'text', inference_id: 'text', ts: 'bigint', server_ts: 'bigint', model: 'text', version: 'text',
  route: 'text', reason: 'text', role: 'text', sticky_hash: 'text', inputs: 'jsonb', outputs: 'jsonb',
  latency_ms: 'float8', status: 'int', error_code: 'text', revision: 'int', attributes: 'jsonb',
  predicted_label: 'text', score: 'float8',
}
const INSERT_SQL = `INSERT INTO inferences (${INSERT_COLUMNS.join(', ')})
  SELECT * FROM unnest(${INSERT_COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}[]`).join(', ')})
  ON CONFLICT (record_id) DO NOTHING`

/**
 * The same INSERT with the rollups, in one statement: its RETURNING rows (the records
 * inserted, not those already stored) feed one upsert a rollup table. Every part of a
 * statement reads the snapshot from before it, so `inferences` there holds the earlier records
 * and `n` the batch's.
 */
const BATCH_RECORDS: RecordSource = {
  rows: (a) => ({ from: `n ${a}`, where: 'true' }),
  stored: 'inferences',
  isBatchApart: true,
  storedBefore: () => 'true',
}
const INSERT_WITH_ROLLUPS_SQL = `WITH n AS (${INSERT_SQL} RETURNING record_id, model, inference_id, ts, version, role, latency_ms, status, predicted_label, score),
  ${recordRollupSql(POSTGRES, BATCH_RECORDS).map((text, k) => `r${k} AS (${text})`).join(',\n  ')}
  SELECT record_id FROM n`

const STATES_SQL = driftStatesSql(POSTGRES)

export class PostgresStore implements Store {
  readonly dialect = POSTGRES
  readonly #pool: pg.Pool

  readonly #insertSql: string
  #drift: DriftCounter | null = null

  /** `rollups: false` only to measure what keeping them costs the writer (bench/compare.ts). */
  constructor(url: string, options: { rollups?: boolean } = {}) {
    this.#insertSql = options.rollups ?? true ? INSERT_WITH_ROLLUPS_SQL : INSERT_SQL
    this.#pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 10_000, query_timeout: 30_000 })
    // a connection dropped by a stopped server must not crash the process; the next query on it
    // reports it, and the pool discards a connection that has failed. Each connection gets its own
    // listener as it is made: pg-pool hands a new one out without any, and the server's FATAL can
    // come in the very read that made it ready, before the caller could add one.
    this.#pool.on('error', () => {})
    this.#pool.on('connect', (client) => client.on('error', () => {}))
  }

  async migrate(): Promise<number> {
    return withPostgresTransaction(this.#pool, 'write', async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)')
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version))
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue
        await client.query(migrationSql(m, 'postgres'))
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()])
      }
      const { rows } = await client.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations')
      return rows[0].v
    })
  }

  async insert(rows: readonly StoredInference[]): Promise<void> {
    if (rows.length === 0) return
    const drift = this.#drift
    const values = INSERT_COLUMNS.map((c) => rows.map((r) => r[c]))
    if (drift === null) {
      await this.#pool.query(this.#insertSql, values)
      return
    }
    // alone, so that no rebuild step of this process counts while records are in flight: else one
    // stored meanwhile could be left by both the writer and the rebuild (other processes' steps
    // wait for the states this transaction reads FOR SHARE)
    await drift.exclusive(() => withPostgresTransaction(this.#pool, 'write', async (client) => {
      const follow = drift.follow(driftStatesOf((await client.query(STATES_SQL)).rows))
      if (follow !== null) await runStepsOnPostgres(client, follow)
      if (!drift.wants(rows)) return void (await client.query(this.#insertSql, values))
      // counted from the records the INSERT says it stored, and written in its transaction
      const inserted = await client.query<{ record_id: string }>(`${this.#insertSql}${this.#insertSql === INSERT_SQL ? ' RETURNING record_id' : ''}`, values)
      const isNew = inserted.rows.length === rows.length ? null : new Set(inserted.rows.map((r) => r.record_id))
      const counted = drift.count(rows, isNew)
      if (counted.length > 0) await client.query(DRIFT_UPSERT_ARRAYS_SQL, columnArrays(counted))
    }))
  }

  countDriftWith(counter: DriftCounter | null): void {
    this.#drift = counter
  }

  run<T>(op: Operation<T>, mode: TransactionMode = 'write'): Promise<T> {
    return runOnPostgres(this.#pool, op, mode)
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
