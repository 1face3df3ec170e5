/**
 * The embedded store: one SQLite file in WAL mode (readers never block the writer), written
 * only by the writer worker, since better-sqlite3 is synchronous.
 */
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { GroundTruthItem, GroundTruthOutcome, InferenceFilter, InferenceQuery, InferenceRecord, StoredInference } from './event.js'
import { MIGRATIONS } from './migrations.js'
import { countInferences, INSERT_COLUMNS, putRowValues, selectInferences, toInferenceRecord } from './query-sql.js'
import type { Operation } from './operation.js'
import type { InferenceStore } from './store.js'
import { compareQueries, numericRows, SQLITE, TEXT_COLUMNS, timeseriesQuery } from '../compare/compare-sql.js'
import type { CompareFilter, CompareRaw, TimeseriesRow } from '../compare/compare-sql.js'

const ROWS_A_STATEMENT = 50 // rows a multi-row INSERT (19 parameters each)
const OPTIMIZE_EVERY_ROWS = 500_000

export class SqliteStore implements InferenceStore {
  readonly kind = 'sqlite'
  readonly #db: Database.Database
  #insertMany: ((rows: readonly StoredInference[]) => void) | null = null
  #sinceOptimize = 0

  constructor(path: string, options: { readonly?: boolean } = {}) {
    if (!options.readonly) mkdirSync(dirname(path), { recursive: true })
    this.#db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false })
    if (!options.readonly) {
      // 16 KiB pages for a new file (an existing one keeps its own): each commit writes its
      // pages to the WAL one frame a page, and 16 KiB pages took 35 % less CPU a record than
      // 4 KiB ones (3.9 against 6.0 µs, 150,000 log-shaped rows with the three indexes, here)
      this.#db.pragma('page_size = 16384')
      this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('synchronous = NORMAL') // a commit survives the process being killed; WAL keeps it consistent
      this.#db.pragma('cache_size = -65536') // 64 MiB: the indexes' hot pages stay in memory as the table grows
      this.#db.pragma('wal_autocheckpoint = 10000') // pages; fewer, larger checkpoints
    }
    this.#db.pragma('busy_timeout = 5000')
  }

  async migrate(): Promise<number> {
    const db = this.#db
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
    db.transaction(() => {
      const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[])
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue
        db.exec(m.sqlite)
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now())
      }
    }).immediate()
    // Positional parameters and ROWS_A_STATEMENT rows an INSERT: binding by name, and a call
    // a row, each cost a third more (the writer's CPU is taken from the request thread's core).
    const width = INSERT_COLUMNS.length
    const values = (n: number) => Array.from({ length: n }, () => `(${INSERT_COLUMNS.map(() => '?').join(', ')})`).join(', ')
    const insertMany = db.prepare(`INSERT OR IGNORE INTO inferences (${INSERT_COLUMNS.join(', ')}) VALUES ${values(ROWS_A_STATEMENT)}`)
    const insertOne = db.prepare(`INSERT OR IGNORE INTO inferences (${INSERT_COLUMNS.join(', ')}) VALUES ${values(1)}`)
    const many: unknown[] = new Array(ROWS_A_STATEMENT * width)
    const one: unknown[] = new Array(width)
    this.#insertMany = db.transaction((rows: readonly StoredInference[]) => {
      let i = 0
      for (; i + ROWS_A_STATEMENT <= rows.length; i += ROWS_A_STATEMENT) {
        for (let k = 0; k < ROWS_A_STATEMENT; k++) putRowValues(rows[i + k], many, k * width)
        insertMany.run(many)
      }
      for (; i < rows.length; i++) {
        putRowValues(rows[i], one, 0)
        insertOne.run(one)
      }
    })
    db.pragma('optimize=0x10002') // SQLite's advice for a long-lived connection: gather planner statistics where missing
    return db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number
  }

  async insert(rows: readonly StoredInference[]): Promise<void> {
    if (this.#insertMany === null) throw new Error('the SQLite store is not migrated yet')
    this.#insertMany(rows)
    this.#sinceOptimize += rows.length
    if (this.#sinceOptimize >= OPTIMIZE_EVERY_ROWS) {
      this.#sinceOptimize = 0
      this.#db.pragma('optimize') // the table has grown: let the planner's statistics follow (comparisons then scan instead of seek)
    }
  }

  async query(q: InferenceQuery): Promise<InferenceRecord[]> {
    const { sql, params } = selectInferences(q, () => '?')
    return (this.#db.prepare(sql).all(...params) as Record<string, unknown>[]).map(toInferenceRecord)
  }

  async count(model?: string): Promise<number> {
    const stmt = model === undefined ? this.#db.prepare('SELECT count(*) FROM inferences') : this.#db.prepare('SELECT count(*) FROM inferences WHERE model = ?')
    return stmt.pluck().get(...(model === undefined ? [] : [model])) as number
  }

  async countMatching(filter: InferenceFilter): Promise<number> {
    const { sql, params } = countInferences(filter, () => '?')
    return this.#db.prepare(sql).pluck().get(...params) as number
  }

  async compareRaw(filter: CompareFilter): Promise<CompareRaw> {
    const queries = compareQueries(filter, SQLITE)
    const run = (q: { sql: string; params: unknown[] }) => numericRows(this.#db.prepare(q.sql).all(...q.params) as Record<string, unknown>[], TEXT_COLUMNS)
    return this.#db.transaction(() => ({ // one snapshot for all three
      stats: run(queries.stats), judged: run(queries.judged), agreement: run(queries.agreement),
    }) as CompareRaw)()
  }

  async timeseries(filter: CompareFilter, bucketMs: number): Promise<TimeseriesRow[]> {
    const q = timeseriesQuery(filter, bucketMs, SQLITE)
    return numericRows(this.#db.prepare(q.sql).all(...q.params) as Record<string, unknown>[], TEXT_COLUMNS)
  }

  async runOperation<T>(op: Operation<T>): Promise<T> {
    // synchronous from first statement to last: nothing else can run inside the transaction
    return this.#db.transaction(() => {
      let step = op.next([])
      while (!step.done) {
        let rows: Record<string, unknown>[]
        try {
          const stmt = this.#db.prepare(step.value.sql)
          rows = stmt.reader ? (stmt.all(...step.value.params) as Record<string, unknown>[]) : (stmt.run(...step.value.params), [])
        } catch (err) {
          step = op.throw(err) // the operation may turn a constraint into its own error; else it rethrows
          continue
        }
        step = op.next(rows)
      }
      return step.value
    }).immediate()
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
