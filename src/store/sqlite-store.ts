/**
 * The embedded store: one SQLite file in WAL mode (readers never block the writer), used by
 * one thread only, the store worker, since better-sqlite3 is synchronous.
 */
import Database from 'better-sqlite3'
import { mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { SQLITE } from './dialect.js'
import { MIGRATIONS, migrationSql } from './migrations.js'
import { runOnSqlite, runStepsOnSqlite, withSqliteTransaction } from './operation.js'
import type { Operation, Rows, TransactionMode } from './operation.js'
import { INSERT_COLUMNS, putRowValues } from './query-sql.js'
import type { StoredInference } from './records.js'
import { DRIFT_UPSERT_ROW_SQL, driftStatesOf, driftStatesSql } from './drift-rollups.js'
import type { DriftCounter } from './drift-rollups.js'
import { joinedRollupSql, RecordSums, TABLES, upsertRowSql } from './rollups.js'
import type { RecordSource } from './rollups.js'
import type { Store } from './store.js'

const ROWS_A_STATEMENT = 50 // rows a multi-row INSERT (19 parameters each)
const OPTIMIZE_EVERY_ROWS = 500_000
const BUSY_TIMEOUT_MS = 5_000

/*
 * The WAL's bound. Issue #13: the file reached 164 MB, which is 10,000 frames of 16 KiB, where
 * wal_autocheckpoint was set, and a WAL file never shrinks by itself. Now:
 *  - at WAL_CHECKPOINT_BYTES of frames a commit copies them into the database (SQLite's own
 *    checkpoint; against 10,000 pages it cost the writer up to a tenth more CPU a record in
 *    20-row commits, 16.3 against 14.8 µs, and the same within noise in 200-row ones);
 *  - the next commit starts the WAL over unless a reader still reads from it, and the file is
 *    cut back to WAL_CHECKPOINT_BYTES when it does (journal_size_limit);
 *  - a reader in a transaction at each of those moments (another process on the file, such as
 *    `switchyard export`) keeps it growing: past WAL_RESTART_BYTES the writer waits up to
 *    RESTART_WAIT_MS for the readers of that moment, checkpoints and truncates it to nothing.
 * So the -wal file stays under WAL_MAX_BYTES, unless one read transaction outlasts
 * RESTART_WAIT_MS: then it grows until that reader ends, and the next restart truncates it.
 */
const WAL_CHECKPOINT_BYTES = 16 << 20 // 16 MiB
const WAL_RESTART_BYTES = 48 << 20 // 48 MiB
const RESTART_WAIT_MS = 1_000
/** WAL_RESTART_BYTES plus the pages of one batch (MAX_INSERT_ROWS rows write well under 16 MiB). */
export const WAL_MAX_BYTES = WAL_RESTART_BYTES + (16 << 20) // 64 MiB
const PAUSE = new Int32Array(new SharedArrayBuffer(4)) // Atomics.wait on it: a synchronous sleep

/**
 * A batch's records for the rollups: the rows past the largest rowid before it (rowids only
 * grow, records are never deleted, and a record already stored is not inserted again).
 */
const BATCH_RECORDS: RecordSource = {
  rows: (a) => ({ from: `inferences ${a}`, where: `${a}.rowid > @before` }),
  stored: 'inferences',
  isBatchApart: false,
  storedBefore: (a) => `+${a}.rowid <= @before`, // unary +: found by id, never by rowid
}

export class SqliteStore implements Store {
  readonly dialect = SQLITE
  readonly #db: Database.Database
  #insertMany: ((rows: readonly StoredInference[]) => void) | null = null
  #sinceOptimize = 0
  readonly #walPath: string
  /** The -wal file's size above which the writer waits for readers and truncates it. */
  #restartAtBytes = WAL_RESTART_BYTES

  readonly #keepsRollups: boolean
  #drift: DriftCounter | null = null

  /** `rollups: false` only to measure what keeping them costs the writer (bench/compare.ts). */
  constructor(path: string, options: { readonly?: boolean; rollups?: boolean } = {}) {
    this.#keepsRollups = options.rollups ?? true
    if (!options.readonly) mkdirSync(dirname(path), { recursive: true })
    this.#db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false })
    this.#walPath = `${path}-wal`
    if (!options.readonly) {
      // 16 KiB pages for a new file (an existing one keeps its own): each commit writes its
      // pages to the WAL one frame a page, and 16 KiB pages took 35 % less CPU a record than
      // 4 KiB ones (3.9 against 6.0 µs, 150,000 log-shaped rows with the three indexes, here)
      this.#db.pragma('page_size = 16384')
      this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('synchronous = NORMAL') // a commit survives the process being killed; WAL keeps it consistent
      this.#db.pragma('cache_size = -65536') // 64 MiB: the indexes' hot pages stay in memory as the table grows
      const pageBytes = this.#db.pragma('page_size', { simple: true }) as number
      this.#db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_BYTES / pageBytes}`) // pages
      this.#db.pragma(`journal_size_limit = ${WAL_CHECKPOINT_BYTES}`)
    }
    this.#db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  }

  async migrate(): Promise<number> {
    const db = this.#db
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
    withSqliteTransaction(db, 'write', () => {
      const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[])
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue
        db.exec(migrationSql(m, 'sqlite'))
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now())
      }
    })
    // Positional parameters and ROWS_A_STATEMENT rows an INSERT: binding by name, and a call
    // a row, each cost a third more (the store worker's CPU is taken from the request thread's core).
    const width = INSERT_COLUMNS.length
    const values = (n: number) => Array.from({ length: n }, () => `(${INSERT_COLUMNS.map(() => '?').join(', ')})`).join(', ')
    const insertRows = db.prepare(`INSERT OR IGNORE INTO inferences (${INSERT_COLUMNS.join(', ')}) VALUES ${values(ROWS_A_STATEMENT)}`)
    const insertOne = db.prepare(`INSERT OR IGNORE INTO inferences (${INSERT_COLUMNS.join(', ')}) VALUES ${values(1)}`)
    const many: unknown[] = new Array(ROWS_A_STATEMENT * width)
    const one: unknown[] = new Array(width)
    const lastRowid = db.prepare('SELECT coalesce(max(rowid), 0) FROM inferences').pluck()
    const addRollups = this.#keepsRollups ? this.#rollupWriter() : null
    const insertedIds = db.prepare('SELECT record_id FROM inferences WHERE rowid > ?').pluck()
    const upsertDrift = db.prepare(DRIFT_UPSERT_ROW_SQL)
    const driftStates = db.prepare(driftStatesSql(SQLITE))
    const insertBatch = db.transaction((rows: readonly StoredInference[], counter: DriftCounter | null) => {
      const follow = counter?.follow(driftStatesOf(driftStates.all() as Rows)) ?? null
      if (follow !== null) runStepsOnSqlite(db, follow)
      const drift = counter?.wants(rows) ? counter : null
      const isCounted = addRollups !== null || drift !== null
      const before = isCounted ? (lastRowid.get() as number) : 0
      let inserted = 0
      let i = 0
      for (; i + ROWS_A_STATEMENT <= rows.length; i += ROWS_A_STATEMENT) {
        for (let k = 0; k < ROWS_A_STATEMENT; k++) putRowValues(rows[i + k], many, k * width)
        inserted += insertRows.run(many).changes
      }
      for (; i < rows.length; i++) {
        putRowValues(rows[i], one, 0)
        inserted += insertOne.run(one).changes
      }
      // a record stored already (a batch sent again) is not inserted, and must not be counted again
      if (!isCounted) return
      const isNew = inserted === rows.length ? null : new Set(insertedIds.all(before) as string[])
      addRollups?.(rows, before, isNew)
      if (drift !== null) for (const values of drift.count(rows, isNew)) upsertDrift.run(values)
    })
    // IMMEDIATE: the rowid read first must still be the last when the rows go in (another process may write the file)
    this.#insertMany = (rows) => insertBatch.immediate(rows, this.#drift)
    db.pragma('optimize=0x10002') // SQLite's advice for a long-lived connection: gather planner statistics where missing
    return db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number
  }

  /**
   * What adds a batch's records to the rollups (rollups.ts), in the batch's transaction:
   * latency and predictions summed here, the pairs and the ground truth by SQL over the rows
   * past `before`, the largest rowid before the batch.
   */
  #rollupWriter(): (rows: readonly StoredInference[], before: number, isNew: ReadonlySet<string> | null) => void {
    const db = this.#db
    const latency = db.prepare(upsertRowSql(TABLES.latency))
    const predictions = db.prepare(upsertRowSql(TABLES.predictions))
    const joined = joinedRollupSql(SQLITE, BATCH_RECORDS)
    const hasTruth = db.prepare(joined.hasTruth)
    const judged = joined.judged.map((text) => db.prepare(text))
    const agreement = db.prepare(joined.agreement)
    return (rows, before, isNew) => {
      const sums = new RecordSums()
      for (const r of rows) if (isNew === null || isNew.has(r.record_id)) sums.add(r)
      for (const values of sums.latencyRows()) latency.run(values)
      for (const values of sums.predictionRows()) predictions.run(values)
      if (hasTruth.get({ before }) !== undefined) for (const statement of judged) statement.run({ before })
      agreement.run({ before })
    }
  }

  async insert(rows: readonly StoredInference[]): Promise<void> {
    if (this.#insertMany === null) throw new Error('the SQLite store is not migrated yet')
    this.#insertMany(rows)
    this.#boundWal()
    this.#sinceOptimize += rows.length
    if (this.#sinceOptimize >= OPTIMIZE_EVERY_ROWS) {
      this.#sinceOptimize = 0
      this.#db.pragma('optimize') // the table has grown: let the planner's statistics follow (comparisons then scan instead of seek)
    }
  }

  countDriftWith(counter: DriftCounter | null): void {
    this.#drift = counter
  }

  async run<T>(op: Operation<T>, mode: TransactionMode = 'write'): Promise<T> {
    return runOnSqlite(this.#db, op, mode)
  }

  /** After a commit: the WAL has grown past WAL_RESTART_BYTES because readers kept it from starting over. */
  #boundWal(): void {
    const bytes = statSync(this.#walPath, { throwIfNoEntry: false })?.size ?? 0
    if (bytes <= this.#restartAtBytes) return
    // a reader that stayed longer: the next try after another checkpoint's worth, so the writer is not held at every commit
    this.#restartAtBytes = this.#truncateWal() ? WAL_RESTART_BYTES : bytes + WAL_CHECKPOINT_BYTES
  }

  /**
   * Checkpoint and truncate the WAL, retried every millisecond for up to RESTART_WAIT_MS. Not
   * SQLite's busy handler: it sleeps up to 100 ms a try, and a reader that pauses only a few
   * milliseconds between transactions (export's pages) took the lock back every time.
   */
  #truncateWal(): boolean {
    const deadline = performance.now() + RESTART_WAIT_MS
    this.#db.pragma('busy_timeout = 0')
    try {
      for (;;) {
        const [result] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[]
        if (result.busy === 0) return true
        if (performance.now() > deadline) return false
        Atomics.wait(PAUSE, 0, 0, 1)
      }
    } finally {
      this.#db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    }
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
