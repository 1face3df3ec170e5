import { describe, expect, it } from 'vitest'
import { MIGRATIONS, migrationSql, SCHEMA_VERSION } from './migrations.js'
import type { Migration } from './migrations.js'

describe('migrations', () => {
  it('are numbered 1, 2, 3, … in order, each with a text for both stores', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1))
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length)
    for (const m of MIGRATIONS) {
      expect(migrationSql(m, 'sqlite')).toMatch(/\S/)
      expect(migrationSql(m, 'postgres')).toMatch(/\S/)
    }
  })

  it('give one text to both stores when written once, and each its own otherwise', () => {
    const shared: Migration = { version: 9, name: 'shared', sql: 'CREATE INDEX a ON b (c)' }
    const split: Migration = { version: 10, name: 'split', sqlite: 'x INTEGER', postgres: 'x BIGINT' }
    expect([migrationSql(shared, 'sqlite'), migrationSql(shared, 'postgres')]).toEqual(['CREATE INDEX a ON b (c)', 'CREATE INDEX a ON b (c)'])
    expect([migrationSql(split, 'sqlite'), migrationSql(split, 'postgres')]).toEqual(['x INTEGER', 'x BIGINT'])
  })
})
