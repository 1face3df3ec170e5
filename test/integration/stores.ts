/** Both real stores for the tests: SQLite in a temp file, PostgreSQL as a fresh database on the shared server. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach } from 'vitest'
import { openStore } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
import type { StoreSpec } from '../../src/store/store-spec.js'
import { createTestDatabase } from './postgres.js'

export interface StoreUnderTest {
  readonly store: Store
  /** Run SQL behind the API's back, in the store's own dialect (e.g. to try to change a record). */
  tamper(sql: string): Promise<void>
  cleanup(): Promise<void>
}

export const STORES: Record<string, () => Promise<StoreUnderTest>> = {
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-store-'))
    const path = join(dir, 'log.db')
    const store = await openStore({ kind: 'sqlite', path })
    return {
      store,
      tamper: async (sql) => {
        const db = new Database(path)
        try {
          db.exec(sql)
        } finally {
          db.close()
        }
      },
      cleanup: async () => {
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },
  postgres: async () => {
    const db = await createTestDatabase()
    const store = await openStore({ kind: 'postgres', url: db.url })
    return {
      store,
      tamper: async (sql) => {
        const c = new pg.Client({ connectionString: db.url })
        await c.connect()
        try {
          await c.query(sql)
        } finally {
          await c.end()
        }
      },
      cleanup: async () => {
        await store.close()
        await db.drop()
      },
    }
  },
}

/** A place for a store on each kind: connect to it as often as a test needs (replicas, workers). */
const STORE_PLACES: Record<string, (prefix: string) => Promise<{ spec: Exclude<StoreSpec, { kind: 'none' }>; cleanup(): Promise<void> }>> = {
  sqlite: async (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    return { spec: { kind: 'sqlite', path: join(dir, 'store.db') }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
  },
  postgres: async () => {
    const db = await createTestDatabase()
    return { spec: { kind: 'postgres', url: db.url }, cleanup: () => db.drop() }
  },
}

export const STORE_KINDS = Object.keys(STORE_PLACES)

/**
 * Two connections to one new, migrated store of `kind`, as two replicas have; call it inside a
 * describe block: each test's pair is closed and its store removed after the test.
 */
export function twoReplicasOn(kind: string, prefix: string): () => Promise<[Store, Store]> {
  let opened: Store[] = []
  let cleanup: () => Promise<void> = async () => {}
  afterEach(async () => {
    for (const s of opened) await s.close()
    opened = []
    await cleanup()
  })
  return async () => {
    const made = await STORE_PLACES[kind](prefix)
    cleanup = made.cleanup
    const a = await openStore(made.spec)
    await a.migrate()
    const b = await openStore(made.spec)
    await b.migrate()
    opened = [a, b]
    return [a, b]
  }
}
