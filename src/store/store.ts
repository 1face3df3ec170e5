/**
 * The inference log's store: SQLite (embedded, the default) or PostgreSQL (shared by
 * replicas). Both keep the same tables (migrations.ts) and answer the same calls; the writer
 * worker is their only user inside the gateway, `switchyard export` opens one directly.
 */
import type { GroundTruthItem, GroundTruthOutcome, InferenceFilter, InferenceQuery, InferenceRecord, StoredInference } from './records.js'
import type { CompareFilter, CompareRaw, TimeseriesRow } from '../compare/compare-sql.js'
import type { Operation } from './operation.js'
import type { StoreSpec } from './store-spec.js'

export interface InferenceStore {
  readonly kind: 'sqlite' | 'postgres'
  /** Run the migrations not yet applied; resolves to the schema version now in force. */
  migrate(): Promise<number>
  /** Insert rows; a row whose record_id is already stored is skipped, so a retried batch is harmless. */
  insert(rows: readonly StoredInference[]): Promise<void>
  query(q: InferenceQuery): Promise<InferenceRecord[]>
  count(model?: string): Promise<number>
  /** Records a filter matches. */
  countMatching(filter: InferenceFilter): Promise<number>
  /** The comparison's aggregates (src/compare/compare-sql.ts), computed in the store. */
  compareRaw(filter: CompareFilter): Promise<CompareRaw>
  timeseries(filter: CompareFilter, bucketMs: number): Promise<TimeseriesRow[]>
  /** Run an operation (operation.ts: ground truth, the lifecycle) in one transaction. */
  runOperation<T>(op: Operation<T>): Promise<T>
  close(): Promise<void>
}

/** `readonly` opens an existing SQLite file for reading only (export, next to a running gateway). */
export async function openStore(spec: Exclude<StoreSpec, { kind: 'none' }>, options: { readonly?: boolean } = {}): Promise<InferenceStore> {
  // imported on demand: a SQLite gateway never loads pg, a PostgreSQL one never opens a file
  if (spec.kind === 'sqlite') return new (await import('./sqlite-store.js')).SqliteStore(spec.path, options)
  return new (await import('./postgres-store.js')).PostgresStore(spec.url)
}
