/**
 * The store contract, run against both real stores: SQLite in a temp file and PostgreSQL on
 * 127.0.0.1:5432 (a fresh database). Migrations, idempotent inserts, immutable records,
 * ground truth joined to every record of an id, filters and cursor pagination.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InferenceRole, StoredInference } from '../../src/store/records.js'
import { newInferenceId } from '../../src/inference-id.js'
import { compareAggregates } from '../../src/compare/compare-sql.js'
import { MIGRATIONS, migrationSql, SCHEMA_VERSION } from '../../src/store/migrations.js'
import { countInferences, queryInferences } from '../../src/store/query-sql.js'
import { STORES } from './stores.js'
import type { StoreUnderTest } from './stores.js'
import { addGroundTruth } from '../../src/inference-log/ground-truth.js'

function storedRow(inferenceId: string, over: Partial<StoredInference> = {}): StoredInference {
  return {
    record_id: newInferenceId(), inference_id: inferenceId, ts: 1_700_000_000_000, server_ts: 1_700_000_000_000,
    model: 'm', version: 'v1', route: 'm', reason: 'split', role: 'primary', sticky_hash: null,
    inputs: '{"x":1.5}', outputs: '{"label":1,"probability":0.8}', latency_ms: 1.25, status: 200,
    error_code: null, revision: 3, attributes: '{"region":"eu"}', predicted_label: '1', score: 0.8, ...over,
  }
}

const stores = STORES

describe.each(Object.keys(stores))('the %s store', (kind) => {
  let t: StoreUnderTest
  beforeAll(async () => {
    t = await stores[kind]()
  })
  afterAll(() => t.cleanup())

  it('runs its migrations once, and again is a no-op', async () => {
    expect(await t.store.migrate()).toBe(SCHEMA_VERSION)
    expect(await t.store.migrate()).toBe(SCHEMA_VERSION)
  })

  it('stores a batch once, even when the same batch is inserted again', async () => {
    const rows = Array.from({ length: 1500 }, (_, i) => storedRow(`dup-${i}`, { model: 'dup' }))
    await t.store.insert(rows)
    await t.store.insert(rows.slice(0, 700)) // a retried batch
    expect(await t.store.run(countInferences('dup'), 'read')).toBe(1500)
    const full = storedRow('every-field', { model: 'full', ts: 1_700_000_000_001, server_ts: 1_700_000_000_002, route: 'r', reason: 'sticky', role: 'shadow', sticky_hash: '0a0b0c0d', latency_ms: 2.5, status: 500, error_code: 'INFERENCE_FAILED', revision: 7 })
    await t.store.insert([full, ...Array.from({ length: 59 }, (_, i) => storedRow(`filler-${i}`, { model: 'filler' }))]) // through the multi-row INSERT
    const [back] = await t.store.run(queryInferences({ model: 'full', limit: 1, order: 'asc' }), 'read')
    expect(back).toEqual({
      record_id: full.record_id, inference_id: 'every-field', timestamp: '2023-11-14T22:13:20.001Z', server_timestamp: '2023-11-14T22:13:20.002Z',
      model: 'full', version: 'v1', route: 'r', reason: 'sticky', role: 'shadow', sticky_hash: '0a0b0c0d',
      inputs: { x: 1.5 }, outputs: { label: 1, probability: 0.8 }, latency_ms: 2.5, status: 500, error_code: 'INFERENCE_FAILED',
      revision: 7, attributes: { region: 'eu' }, ground_truth: null,
    })
  })

  it('refuses to change or delete an inference record, even in SQL', async () => {
    await t.store.insert([storedRow('immutable-1', { model: 'imm' })])
    await expect(t.tamper("UPDATE inferences SET version = 'v9' WHERE model = 'imm'")).rejects.toThrow(/immutable/)
    await expect(t.tamper("DELETE FROM inferences WHERE model = 'imm'")).rejects.toThrow(/immutable/)
    const [kept] = await t.store.run(queryInferences({ model: 'imm', limit: 10, order: 'asc' }), 'read')
    expect(kept.version).toBe('v1')
  })

  it('joins ground truth to every record of an id, reports unknown ids, and is idempotent', async () => {
    const roles: InferenceRole[] = ['primary', 'shadow', 'challenger']
    await t.store.insert(roles.map((role, i) => storedRow('case-1', { model: 'gt', role, version: `v${i + 1}` })))
    await t.store.insert([storedRow('case-2', { model: 'gt' }), storedRow('case-1', { model: 'other' })])
    const items = [
      { inference_id: 'case-1', label: '1', value: null, ts: 1_700_000_100_000 },
      { inference_id: 'case-2', label: '0', value: null, ts: 1_700_000_100_000 },
      { inference_id: 'never-made', label: '1', value: null, ts: 1_700_000_100_000 },
    ]
    const first = await t.store.run(addGroundTruth('gt', items))
    expect(first).toEqual({ joined: 2, records: 4, unknown_ids: ['never-made'] })
    expect(await t.store.run(addGroundTruth('gt', items))).toEqual(first)
    const withTruth = await t.store.run(queryInferences({ model: 'gt', hasGroundTruth: true, limit: 100, order: 'asc' }), 'read')
    expect(withTruth).toHaveLength(4)
    expect(withTruth.filter((r) => r.inference_id === 'case-1').map((r) => r.role).sort()).toEqual(['challenger', 'primary', 'shadow'])
    expect(withTruth.every((r) => r.ground_truth !== null && r.ground_truth.timestamp === '2023-11-14T22:15:00.000Z')).toBe(true)
    // the same id under another model is another case: no truth joined there
    const [other] = await t.store.run(queryInferences({ model: 'other', limit: 10, order: 'asc' }), 'read')
    expect(other.ground_truth).toBeNull()
  })

  it('filters by version, role, time and ground truth, and pages by cursor without gaps or repeats', async () => {
    const rows: StoredInference[] = []
    for (let i = 0; i < 250; i++) {
      rows.push(storedRow(`page-${i}`, { model: 'page', ts: 1_700_000_000_000 + Math.floor(i / 3) * 1000, version: i % 2 ? 'v2' : 'v1', role: i % 5 === 0 ? 'shadow' : 'primary' }))
    }
    await t.store.insert(rows)
    await t.store.run(addGroundTruth('page', rows.filter((_, i) => i % 4 === 0).map((r) => ({ inference_id: r.inference_id, label: '1', value: null, ts: 1 }))))
    for (const order of ['asc', 'desc'] as const) {
      const seen: string[] = []
      let after: { ts: number; recordId: string } | undefined
      for (;;) {
        const page = await t.store.run(queryInferences({ model: 'page', version: 'v2', limit: 40, order, after }), 'read')
        seen.push(...page.map((r) => r.record_id))
        if (page.length < 40) break
        const last = page[page.length - 1]
        after = { ts: Date.parse(last.timestamp), recordId: last.record_id }
      }
      expect(new Set(seen).size).toBe(125)
      expect(seen).toHaveLength(125)
    }
    const since = 1_700_000_010_000
    const until = 1_700_000_020_000
    const windowed = await t.store.run(queryInferences({ model: 'page', since, until, role: 'shadow', hasGroundTruth: false, limit: 1000, order: 'asc' }), 'read')
    const expected = rows.filter((r, i) => r.ts >= since && r.ts < until && r.role === 'shadow' && i % 4 !== 0)
    expect(windowed.map((r) => r.record_id).sort()).toEqual(expected.map((r) => r.record_id).sort())
    expect(windowed.length).toBeGreaterThan(0)
  })
})

describe.each(Object.keys(stores))('upgrading a %s store', (kind) => {
  it('from schema 1 fills predicted label and score from the outputs already stored, and keeps records immutable', async () => {
    const fresh = await stores[kind]()
    try {
      // the fresh store is not migrated yet: lay down version 1 by hand, with one record
      const v1 = MIGRATIONS[0]
      const bigint = kind === 'postgres' ? 'BIGINT' : 'INTEGER'
      await fresh.tamper(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${bigint} NOT NULL)`)
      await fresh.tamper(migrationSql(v1, fresh.store.dialect.name))
      await fresh.tamper(`INSERT INTO schema_migrations VALUES (1, 'v1', 0)`)
      await fresh.tamper(`INSERT INTO inferences (record_id, inference_id, ts, server_ts, model, version, role, inputs, outputs, latency_ms, status)
        VALUES ('r1', 'old-1', 1, 1, 'm', 'v1', 'primary', '{"x":1}', '{"label":1,"probability":0.75}', 1, 200)`)
      expect(await fresh.store.migrate()).toBe(SCHEMA_VERSION)
      const [row] = await fresh.store.run(queryInferences({ model: 'm', limit: 1, order: 'asc' }), 'read')
      expect(row.inference_id).toBe('old-1')
      await expect(fresh.tamper("UPDATE inferences SET version = 'v9'")).rejects.toThrow(/immutable/)
      const raw = await fresh.store.run(compareAggregates({ model: 'm' }), 'read')
      expect(raw.traffic).toEqual([expect.objectContaining({ version: 'v1', role: 'primary', n: 1, score_sum: 0.75 })])
      expect(raw.predictions).toEqual([expect.objectContaining({ version: 'v1', role: 'primary', n: 1, predicted: '1' })])
    } finally {
      await fresh.cleanup()
    }
  })
})
