/** Opening the store a spec names (store-spec.ts). */
import type { Store } from './store.js'
import type { StoreSpec } from './store-spec.js'

/**
 * `readonly` opens an existing SQLite file for reading only (export, next to a running gateway);
 * `rollups: false` writes records without their rollups, only to measure what those cost.
 */
export async function openStore(spec: Exclude<StoreSpec, { kind: 'none' }>, options: { readonly?: boolean; rollups?: boolean } = {}): Promise<Store> {
  // imported on demand: a SQLite gateway never loads pg, a PostgreSQL one never opens a file
  if (spec.kind === 'sqlite') return new (await import('./sqlite-store.js')).SqliteStore(spec.path, options)
  return new (await import('./postgres-store.js')).PostgresStore(spec.url, options)
}
