/** Both real stores for the tests: SQLite in a temp file, PostgreSQL as a fresh database on the shared server. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { openStore } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
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
