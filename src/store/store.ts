/**
 * Where the gateway keeps what it records and decides: SQLite (embedded, the default) or
 * PostgreSQL (shared by replicas). Both keep the same tables (migrations.ts) and run the same
 * operations (operation.ts). Inside the gateway one thread uses the store, the store worker
 * (inference-log/store-worker.ts); `switchyard export` opens one directly (open-store.ts).
 */
import type { Dialect } from './dialect.js'
import type { DriftCounter } from './drift-rollups.js'
import type { Operation, TransactionMode } from './operation.js'
import type { StoredInference } from './records.js'

export interface Store {
  readonly dialect: Dialect
  /** Run the migrations not yet applied; resolves to the schema version now in force. */
  migrate(): Promise<number>
  /** Insert inference records; a row whose record_id is already stored is skipped, so a retried batch is harmless. */
  insert(rows: readonly StoredInference[]): Promise<void>
  /** Count the records of profiled versions into rollup_drift as they are inserted (drift-rollups.ts); null: stop. */
  countDriftWith(counter: DriftCounter | null): void
  /** Run an operation in one transaction, a `write` one unless `mode` says otherwise. */
  run<T>(op: Operation<T>, mode?: TransactionMode): Promise<T>
  close(): Promise<void>
}
