/**
 * The shared store: PostgreSQL, for many gateway replicas writing one log. Batches go in
 * as one INSERT … SELECT FROM unnest(arrays), a statement with 17 parameters whatever the
 * batch size. Migrations take an advisory lock, so replicas starting together apply each once.
 */
import pg from 'pg'
import type { GroundTruthItem, GroundTruthOutcome, InferenceFilter, InferenceQuery, InferenceRecord, StoredInference } from './records.js'
import { MIGRATIONS } from './migrations.js'
import { countInferences, INSERT_COLUMNS, selectInferences, toInferenceRecord } from './query-sql.js'
import type { Operation } from './operation.js'
import type { InferenceStore } from './store.js'
import { compareQueries, numericRows, POSTGRES, TEXT_COLUMNS, timeseriesQuery } from '../compare/compare-sql.js'
import type { CompareFilter, CompareRaw, TimeseriesRow } from '../compare/compare-sql.js'

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

export class PostgresStore implements InferenceStore {
  readonly kind = 'postgres'
  readonly #pool: pg.Pool

  constructor(url: string) {
    this.#pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 10_000, query_timeout: 30_000 })
    // an idle connection dropped by a stopped server must not crash the process; the next query reports it
    this.#pool.on('error', () => {})
  }

  async migrate(): Promise<number> {
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)')
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version))
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue
        await client.query(m.postgres)
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()])
      }
      const { rows } = await client.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations')
      await client.query('COMMIT')
      return rows[0].v
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async insert(rows: readonly StoredInference[]): Promise<void> {
    if (rows.length === 0) return
    await this.#pool.query(INSERT_SQL, INSERT_COLUMNS.map((c) => rows.map((r) => r[c])))
  }

  async query(q: InferenceQuery): Promise<InferenceRecord[]> {
    const { sql, params } = selectInferences(q, (n) => `$${n}`)
    return (await this.#pool.query(sql, params)).rows.map(toInferenceRecord)
  }

  async count(model?: string): Promise<number> {
    const { rows } = model === undefined
      ? await this.#pool.query<{ n: string }>('SELECT count(*) AS n FROM inferences')
      : await this.#pool.query<{ n: string }>('SELECT count(*) AS n FROM inferences WHERE model = $1', [model])
    return Number(rows[0].n)
  }

  async countMatching(filter: InferenceFilter): Promise<number> {
    const { sql, params } = countInferences(filter, (n) => `$${n}`)
    return Number((await this.#pool.query<{ n: string }>(sql, params)).rows[0].n)
  }

  async compareRaw(filter: CompareFilter): Promise<CompareRaw> {
    const queries = compareQueries(filter, POSTGRES)
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY') // one snapshot for all three
      const run = async (q: { sql: string; params: unknown[] }) => numericRows((await client.query(q.sql, q.params)).rows, TEXT_COLUMNS)
      const raw = {
        stats: await run(queries.stats), judged: await run(queries.judged), agreement: await run(queries.agreement),
      } as CompareRaw
      await client.query('COMMIT')
      return raw
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async timeseries(filter: CompareFilter, bucketMs: number): Promise<TimeseriesRow[]> {
    const q = timeseriesQuery(filter, bucketMs, POSTGRES)
    return numericRows((await this.#pool.query(q.sql, q.params)).rows, TEXT_COLUMNS)
  }

  async runOperation<T>(op: Operation<T>): Promise<T> {
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      let step = op.next([])
      while (!step.done) {
        let n = 0
        const sql = step.value.sql.replace(/\?/g, () => `$${++n}`) // the operations write ? placeholders
        let rows: Record<string, unknown>[]
        try {
          rows = (await client.query(sql, step.value.params as unknown[])).rows
        } catch (err) {
          step = op.throw(err) // the operation may turn a constraint into its own error; else it rethrows
          continue
        }
        step = op.next(rows)
      }
      await client.query('COMMIT')
      return step.value
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
